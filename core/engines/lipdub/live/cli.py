"""`python -m core live`: a file fed to a live lip-dub session as if it were a microphone.

``--video idle.mp4 --audio speech.wav --out live.mp4 [--pace realtime] [--chunk-ms 40]`` reads the audio (with the
shared audio flags), pushes it in ``--chunk-ms`` pieces (``--pace realtime``: each piece when it would have been
spoken; ``fast``: as fast as the session takes them), and writes what a viewer would have seen: the frames with the
audio that came with them. Per chunk it logs (``<out>.latency.tsv`` and the job folder's ``latency.tsv``) when the
chunk arrived, which frames left, the latency from a sound entering to the frame that shows it leaving (after its
encode), and the seconds per step; the summary line gives fps, the latency's median and 95th percentile, and the
mean budget per frame of each step.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np

STEPS = ("audio_features", "latents", "unet", "vae_decode", "blend", "encode")


def add_parser(subparsers) -> None:
    from core.cli import add_request_arguments
    from core.engines.lipdub import cli as lipdub_cli
    from core.engines.lipdub.live.request import LiveRequest

    p = subparsers.add_parser("live", help="live lip-dub: an idle video looped and driven by audio fed in chunks",
                              description=__doc__.split("\n\n")[1])
    lipdub_cli.add_arguments(p)
    p.add_argument("--pace", choices=["fast", "realtime"], default="fast",
                   help="realtime: push each chunk when it would have been spoken (latency as a microphone gives)")
    p.add_argument("--chunk-ms", type=int, default=40, help="audio per push, as a microphone sends it")
    add_request_arguments(p, LiveRequest)
    p.set_defaults(func=command)


def request_from_args(args: argparse.Namespace):
    """The live request the flags describe (the lip-dub flags, the look-ahead, the audio fed), validated."""
    from core import spec
    from core.audio.cli import audio_options_from_args
    from core.engines.lipdub import cli as lipdub_cli
    from core.errors import BadInputError
    from core.engines.lipdub.live.request import LiveRequest

    if args.preview:
        raise BadInputError("live has no preview: run it and watch --out")
    if not args.audio or not args.output:
        raise BadInputError("python -m core live needs --audio (the file fed as a microphone) and --out")
    values = {**spec.flag_values(LiveRequest, args), **lipdub_cli.extra_fields(args)}
    return LiveRequest(**values, audio=audio_options_from_args(args)).validate()


def command(args: argparse.Namespace) -> int:
    from core.cli import TERMINATED
    from core.progress import tqdm_progress

    req = request_from_args(args)
    with tqdm_progress("live: preparing") as report:
        out, rows, seconds = feed_file(req, args.pace, args.chunk_ms, report, cancel_event=TERMINATED)
    print(f"{out}\n{summary(rows, seconds)}")
    return 0


def feed_file(req, pace: str = "fast", chunk_ms: int = 40, progress=None, outputs_root=None,
              cancel_event=None) -> tuple[Path, list[dict], float]:
    """Run a session on ``req.audio`` pushed in ``chunk_ms`` pieces; write ``req.output`` and its latency log.
    Returns the output, the per-chunk rows, and the seconds from the first push to the last frame out."""
    from core import jobs, sessions
    from core.audio.prepare import driving_audio
    from core.engines.lipdub.audio import SR
    from core.media import VideoWriter

    chunk = max(1, SR * int(chunk_ms) // 1000)
    rows = []
    with sessions.open_session("lipdub", req, progress, outputs_root, cancel_event) as session:
        ctx = session.ctx
        # Live mouths follow the audio as it comes: resting on silence needs the whole take's speech map.
        samples, _ = driving_audio(dataclasses.replace(req.audio, rest="off"), ctx, SR, req.checkpoints)
        out_path = ctx.job_dir / "live.mp4"
        with VideoWriter(out_path, fps=25, size=session.impl.size, audio=(samples, SR), crf=int(req.crf),
                         preset="veryfast") as writer:
            start = left = time.perf_counter()
            for i, a in enumerate(range(0, len(samples) + 1, chunk)):
                last = a + chunk >= len(samples)
                arrival = start + (a + chunk) / SR if pace == "realtime" else time.perf_counter()
                if pace == "realtime":
                    time.sleep(max(0.0, arrival - time.perf_counter()))
                got = session.push(samples[a:a + chunk], SR)
                pieces = [got, session.finish() if last else None]
                for piece in (p for p in pieces if p is not None):
                    t0 = time.perf_counter()
                    with ctx.stage("encode"):
                        writer.write(piece.frames)
                    left = time.perf_counter()
                    piece.steps["encode"] = left - t0
                    rows.append(_row(i, arrival, piece, left, start, chunk, pace))
                if last:
                    break
        jobs._write_json(ctx.job_dir / "latency.json", rows)
    log = _write_tsv(rows, ctx.job_dir / "latency.tsv")
    out = Path(req.output).expanduser()
    jobs.deliver(jobs.JobResult(output=out_path), out)
    shutil.copyfile(log, out.with_suffix(".latency.tsv"))
    return out, rows, left - start


def _row(i: int, arrival: float, piece, left: float, start: float, chunk: int, pace: str) -> dict:
    """One chunk's line: a frame's sound entered with the chunk holding its first sample (realtime pacing), or
    when its frame's chunk was pushed (fast: compute only)."""
    per_frame = 640
    if pace == "realtime":
        entered = [start + (k * per_frame // chunk + 1) * chunk / 16000 for k in range(piece.start, piece.end)]
    else:
        entered = [arrival] * len(piece.frames)
    latency = max(left - e for e in entered)
    return {"chunk": i, "arrived_s": round(arrival - start, 4), "frames": f"{piece.start}-{piece.end - 1}",
            "n": len(piece.frames), "latency_ms": round(1000 * latency, 1),
            **{k: round(1000 * piece.steps.get(k, 0.0), 2) for k in STEPS}}


def _write_tsv(rows: list[dict], path: Path) -> Path:
    keys = ["chunk", "arrived_s", "frames", "n", "latency_ms", *STEPS]
    lines = ["\t".join(keys)] + ["\t".join(str(r[k]) for k in keys) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def summary(rows: list[dict], seconds: float) -> str:
    """fps, latency median / p95 (ms), and the mean milliseconds per frame of each step."""
    frames = sum(r["n"] for r in rows)
    lat = np.array([r["latency_ms"] for r in rows]) if rows else np.zeros(1)
    budget = " · ".join(f"{k} {sum(r[k] for r in rows) / max(frames, 1):.1f}" for k in STEPS)
    return (f"{frames} frames in {seconds:.2f} s = {frames / max(seconds, 1e-9):.1f} fps · latency p50 "
            f"{np.percentile(lat, 50):.0f} ms, p95 {np.percentile(lat, 95):.0f} ms · per frame (ms): {budget}")
