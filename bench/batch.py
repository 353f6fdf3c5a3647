"""Batch throughput: rows per minute locally and on Ray with 1 and 2 workers, the time Ray adds per row, and the
per-row time of each engine (the figure for planning a batch).

    python bench/batch.py [--rows 6] [--engine lipdub|expression] [--modes local,ray1,ray2] [--engines]
        [--threads 1] [--checkpoints DIR] [--device auto] [--json out.json]

Rows are short identical jobs (0.12 s of audio on a 64x64 clip for lip-dub, a still edit for expression) that differ
by seed, so each has its own job folder. Each mode runs into a fresh out-dir; the wall time includes, for Ray, the
actors' start and their own model loading (every actor loads its models once), not ``ray.init`` (timed apart).
"overhead_ms_per_row" is (wall - the rows' own seconds) / rows: what the runner adds around the jobs (for Ray: actor
start, model loading in the fresh actor, dispatch and polling); "ray_adds_ms_per_row" is (Ray 1 worker wall - local
wall) / rows. Ray's CPU actors run torch on one thread (``num_cpus=1``); ``--threads`` sets the local runner's torch
threads (default 1, the same). ``--engines`` runs one short row per engine locally and prints
its seconds (``batch.json``): per-row time x rows / workers is the batch's length.

Defaults to the tiny test checkpoints (made in a temporary folder). On a GPU machine, point ``--checkpoints`` at
real-size random weights (``bench/lipdub.py`` leaves them in /tmp/mouthpiece-bench-lipdub-full) or real ones.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import weights
from core.batch import plan, run_batch
from core.batch.ray_runner import RayRunner
from tests.samples import make_tone, portrait_path, talking_clip

BOX = [185, 70, 275, 185]   # the astronaut's face


def media(folder: Path) -> dict[str, str]:
    talking_clip(folder / "clip.mp4", seconds=0.24, size=(64, 64))
    make_tone(folder / "voice.wav", seconds=1.0, hz=220.0)
    shutil.copyfile(portrait_path(), folder / "face.png")
    return {k: str(folder / v) for k, v in (("clip", "clip.mp4"), ("voice", "voice.wav"), ("face", "face.png"))}


def row(engine: str, files: dict[str, str], seed: int) -> dict:
    voice = {"audio": files["voice"], "end": 0.12, "rest": "off"}   # a tone: no rest on silence
    return {
        "lipdub": {"engine": "lipdub", "video": files["clip"], "audio": voice, "box": [8, 8, 56, 56], "batch_size": 4},
        "portrait": {"engine": "portrait", "image": files["face"], "audio": voice, "box": BOX, "steps": 2},
        "expression": {"engine": "expression", "image": files["face"], "box": BOX, "edits": {"smile": 0.5}},
        "avatar": {"engine": "avatar", "image": files["face"], "audio": voice, "size": "64x48", "steps": 2},
    }[engine] | {"name": f"{engine}{seed}", "seed": seed}


def timed(rows: list[dict], out: Path, defaults: dict, runner=None) -> dict:
    items = plan(rows, out, defaults)
    bad = [i.error for i in items if i.error]
    if bad:
        raise SystemExit(bad[0])
    started = time.perf_counter()
    batch = run_batch(items, out, runner)
    wall = time.perf_counter() - started
    seconds = [r.seconds for r in batch.rows]
    return {"rows": len(rows), "ok": batch.ok, "wall_s": round(wall, 2),
            "rows_per_min": round(60 * len(rows) / wall, 1), "row_s_mean": round(sum(seconds) / len(seconds), 2),
            "row_s_first": round(seconds[0], 2),
            "overhead_ms_per_row": round(1000 * (wall - sum(seconds) / batch.workers) / len(rows))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--engine", default="lipdub", choices=["lipdub", "expression"])
    ap.add_argument("--modes", default="local,ray1,ray2")
    ap.add_argument("--engines", action="store_true", help="also one row per engine (per-row time for planning)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the local runner")
    ap.add_argument("--checkpoints")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="mouthpiece-bench-batch-"))
    checkpoints = args.checkpoints or str(weights.make_test_checkpoints(work / "ck"))
    files = media(work)
    defaults = {"checkpoints": checkpoints, "device": args.device}
    rows = [row(args.engine, files, seed) for seed in range(args.rows)]
    results: dict = {"engine": args.engine, "checkpoints": checkpoints, "threads": args.threads, "modes": {}}
    modes = args.modes.split(",")
    if any(m.startswith("ray") for m in modes):
        import ray

        started = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False)
        results["ray_init_s"] = round(time.perf_counter() - started, 2)
    for mode in modes:
        runner = RayRunner(workers=int(mode[3:])) if mode.startswith("ray") else None
        results["modes"][mode] = timed(rows, work / f"out-{mode}", defaults, runner)
        print(mode, results["modes"][mode], flush=True)
    if "local" in results["modes"] and "ray1" in results["modes"]:
        extra = results["modes"]["ray1"]["wall_s"] - results["modes"]["local"]["wall_s"]
        results["ray_adds_ms_per_row"] = round(1000 * extra / args.rows)
    if args.engines:
        results["per_row_s"] = {}
        for engine in ("lipdub", "portrait", "expression", "avatar"):
            two = [row(engine, files, seed) for seed in (0, 1)]   # the second row runs with the models loaded
            out = timed(two, work / f"engine-{engine}", defaults)
            record = json.loads((work / f"engine-{engine}" / "batch.json").read_text())
            results["per_row_s"][engine] = {"first": record["rows"][0]["seconds"], "next": record["rows"][1]["seconds"],
                                            "ok": out["ok"]}
            print(engine, results["per_row_s"][engine], flush=True)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
