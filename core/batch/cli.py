"""``python -m core batch``: run a manifest (or a folder of videos / photos paired with audio by stem) into an
out-dir, locally or on Ray.

Exit codes: 0 every row done; 1 some row failed (or was skipped as bad); 2 bad input (bad rows without
``--skip-bad``, a bad out-dir, a Ray address that does not answer: one line each, before any work); 130 cancelled
(Ctrl-C / SIGTERM: running rows are cancelled, ``batch.json`` says so, and the same command resumes).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import BadInputError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "batch", help="run many jobs from a manifest (CSV/JSONL/YAML) or a folder, locally or on Ray",
        description="Run every row of a manifest as a job into --out-dir (resumable: done rows are skipped). "
                    "Folder shortcut: `batch lipdub --videos DIR --audio DIR` pairs files by stem.")
    p.add_argument("source", metavar="MANIFEST|ENGINE", help="a .csv/.jsonl/.yaml manifest, or an engine name with "
                                                            "--videos/--images and --audio")
    p.add_argument("--out-dir", required=True, help="folder for the results, the job folders and batch.json "
                                                    "(shared storage on a multi-machine Ray cluster)")
    p.add_argument("--videos", help="folder shortcut: the videos to lip-dub (or edit)")
    p.add_argument("--images", help="folder shortcut: the photos to animate")
    p.add_argument("--audio", help="folder shortcut: a folder of audio paired by stem, or one audio file for all")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a request field for every row (a row's own value wins), e.g. --set batch_size=4 or "
                        "--set audio.rest=off")
    p.add_argument("--skip-bad", action="store_true", help="run the valid rows when some are bad (exit 1)")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run on Ray: alone = start a local Ray; ADDRESS (host:port or auto) = join that cluster")
    p.add_argument("--workers", type=int, help="Ray actors (default: one per GPU, one per machine without GPUs)")
    p.add_argument("--gpus-per-job", type=float, default=1.0, help="GPUs each Ray actor holds (default 1)")
    p.add_argument("--retries", type=int, default=2, help="times a row is retried after its Ray worker died")
    p.add_argument("--ray-timeout", type=float, default=10.0, help="seconds to wait for a Ray address to answer")
    p.add_argument("--checkpoints", help="weights folder for every row (default ./checkpoints)")
    p.add_argument("--device", help="device for every row (auto, cpu, cuda)")
    p.add_argument("--dtype", help="precision for every row (auto, fp32, fp16, bf16)")
    p.set_defaults(func=command)


def settings(pairs: list[str]) -> dict:
    """``--set FIELD=VALUE`` flags as request fields (values read like CSV cells: ``manifest.scalar``); a field no
    engine has is refused."""
    import dataclasses

    from core.audio.options import AudioOptions
    from core.engine import ENGINES

    from .manifest import scalar

    known = {f.name for e in ENGINES if e.generates for f in dataclasses.fields(e.request_type)}
    known |= {f"audio.{f.name}" for f in dataclasses.fields(AudioOptions)}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"--set {pair!r}: use FIELD=VALUE, e.g. --set batch_size=4")
        if key.strip() not in known:
            raise BadInputError(f"--set {key.strip()}: no engine has a field of that name "
                                "(python -m core ENGINE --help lists them)")
        out[key.strip()] = scalar(value)
    return out


def rows_from_args(args: argparse.Namespace) -> tuple[list, list[str], str | None]:
    """(rows, unpaired-file problems, manifest path) from a manifest or the folder shortcut."""
    from core import engine as registry

    from .manifest import folder_rows, read_manifest

    inputs = args.videos or args.images
    if inputs is None:
        if args.audio:
            raise BadInputError("--audio pairs with --videos or --images (the folder shortcut)")
        if not Path(args.source).is_file() and args.source in {e.name for e in registry.ENGINES}:
            raise BadInputError(f"batch {args.source} needs --videos DIR (or --images DIR) and --audio DIR|FILE")
        return read_manifest(args.source), [], str(Path(args.source).resolve())
    if args.videos and args.images:
        raise BadInputError("give --videos or --images, not both")
    if not args.audio:
        raise BadInputError("the folder shortcut needs --audio DIR (paired by stem) or --audio FILE")
    registry.get(args.source)
    rows, problems = folder_rows(args.source, inputs, args.audio, kind="video" if args.videos else "image")
    return rows, problems, None


def command(args: argparse.Namespace) -> int:
    from core.cli import TERMINATED
    from core.progress import tqdm_progress

    from .plan import plan
    from .ray_runner import RayRunner
    from .runner import LocalRunner, run_batch

    if args.ray is None and args.workers is not None:
        raise BadInputError("--workers applies to --ray")
    runner = LocalRunner()
    if args.ray is not None:
        runner = RayRunner(args.ray or None, workers=args.workers, gpus_per_job=args.gpus_per_job,
                           retries=args.retries, connect_timeout=args.ray_timeout)
        runner.check_address()
    rows, problems, manifest = rows_from_args(args)
    defaults = {**settings(args.set), "device": args.device, "dtype": args.dtype,
                "checkpoints": str(Path(args.checkpoints).expanduser().resolve()) if args.checkpoints else None}
    items = plan(rows, args.out_dir, defaults)
    bad = [item.error for item in items if item.error] + problems
    for line in bad:
        print(("warning: " if args.skip_bad else "error: ") + line, file=sys.stderr)
    if bad and not args.skip_bad:
        raise BadInputError(f"{len(bad)} bad row(s) of {len(items) + len(problems)}: fix them, or pass --skip-bad "
                            "to run the rest")
    if args.ray is not None:
        runner.connect()
    with tqdm_progress(f"batch ({runner.label})") as report:
        batch = run_batch(items, args.out_dir, runner, on_update=lambda b: report(b.fraction(), b.line()),
                          cancel_event=TERMINATED, manifest=manifest)
    print(batch.table())
    print(batch.out_dir / "batch.json")
    return 0 if batch.ok and not problems else 1
