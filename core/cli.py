"""`python -m core`: one subcommand per registered engine (``core.engine.ENGINES``), all calling the same core
functions as the UI.

Each engine subcommand gets its own flags from ``<engine>.cli.add_arguments(parser)`` and the shared ones from here
(output, preview, device, precision, seed, CRF, checkpoints, the audio flags, and the face choice for engines that
work on one face), so every engine spells them the same. Exit codes: 0 success, 2 bad input (one line on stderr),
3 missing weights (names the files and the download command), 130 cancelled (Ctrl-C or SIGTERM: the job stops at its
next batch, leaving no partial output).
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.errors import BadInputError, JobCancelled, MouthpieceError


def add_common_arguments(parser: argparse.ArgumentParser, request_type: type) -> None:
    """The shared request vocabulary as flags (see ``core.request``)."""
    from core.audio.cli import add_audio_args
    from core.request import DTYPE_CHOICES, EngineRequest, FaceRequest

    parser.add_argument("--audio", required=request_type.needs_audio,
                        help="driving audio (any format, or a video whose sound is used)")
    add_audio_args(parser)
    parser.add_argument("--out", help="output file (a video: .mp4/.mov/.mkv; a still photo edit: .png); required "
                                      "unless --preview")
    parser.add_argument("--preview", metavar="PNG", help="write the preview image here (side images next to it, "
                                                         "as PNG_<name>.png) and exit")
    if issubclass(request_type, FaceRequest):
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--face", type=int, help="face number counted from the left (0 = leftmost); default: the "
                                                  "largest face")
        who.add_argument("--box", help="x1,y1,x2,y2: manual face box in pixels of the first frame (no detection)")
        who.add_argument("--point", help="x,y: the face under this point of the first frame")
    defaults = EngineRequest()
    parser.add_argument("--device", default=defaults.device, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--dtype", choices=DTYPE_CHOICES, default=defaults.dtype,
                        help="precision: auto = fp16 on CUDA, fp32 on the CPU")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--crf", type=int, default=defaults.crf, help="H.264 quality (lower = better, 0-51)")
    parser.add_argument("--checkpoints", help="checkpoints folder (default ./checkpoints or $MOUTHPIECE_CHECKPOINTS)")


def common_fields(args: argparse.Namespace, request_type: type) -> dict[str, Any]:
    """The shared request fields the common flags describe (validated later by ``request.validate()``)."""
    from core.audio.cli import audio_options_from_args
    from core.request import FaceRequest, parse_box, parse_point

    fields: dict[str, Any] = {
        "audio": audio_options_from_args(args) if args.audio else None,
        "output": args.out, "crf": args.crf, "device": args.device, "dtype": args.dtype, "seed": args.seed,
        "checkpoints": args.checkpoints,
    }
    if issubclass(request_type, FaceRequest):
        fields.update(face=args.face, box=parse_box(args.box) if args.box else None,
                      point=parse_point(args.point) if args.point else None)
    return fields


def _engine_command(engine) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from core import jobs

        request_type = engine.request_type
        if not args.preview and not args.out:
            raise BadInputError("--out is required (or --preview PNG)")
        if args.preview:
            args.out = None
        req = engine.cli.request_from_args(args, common_fields(args, request_type)).validate()
        if args.preview:
            with tqdm_progress(f"{engine.name} preview") as report:
                result = jobs.run_job(engine.name, engine.preview, req, progress=report)
            _print_warnings(result)
            target = Path(args.preview).expanduser()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result.output, target)
            print(target)
            for name, path in result.extra.get("images", {}).items():
                side = target.with_name(f"{target.stem}_{name}{target.suffix}")
                shutil.copyfile(path, side)
                print(side)
            for line in result.extra.get("notes", []):
                print(line)
            return 0
        with tqdm_progress(engine.name) as report:
            result = jobs.run_job(engine.name, engine.run, req, progress=report)
        _print_warnings(result)
        print(f"{result.delivered or result.output}\n{result.summary()}")
        return 0

    return command


def _print_warnings(result) -> None:
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    from core.engine import ENGINES

    parser = argparse.ArgumentParser(prog="python -m core", description="Mouthpiece: audio-driven talking video.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for engine in ENGINES:
        if engine.generates:
            p = subparsers.add_parser(engine.name, help=engine.help, description=f"{engine.title}: {engine.help}.")
            engine.cli.add_arguments(p)
            add_common_arguments(p, engine.request_type)
            p.set_defaults(func=_engine_command(engine))
        else:
            engine.cli.add_parser(subparsers)
    from core.live import cli as live_cli
    from core.weights import cli as weights_cli

    live_cli.add_parser(subparsers)
    weights_cli.add_parser(subparsers)
    return parser


def guarded(fn: Callable[..., int], *args) -> int:
    """Run a command; creator-facing errors become one stderr line and their exit code, never a traceback.

    SIGTERM is turned into a cancellation, like Ctrl-C: the running job stops at its next batch and removes its
    partial output before the process exits with 130.
    """
    def on_term(signum, frame):
        raise JobCancelled("terminated")

    previous = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
    try:
        return fn(*args) or 0
    except (JobCancelled, KeyboardInterrupt):
        print("cancelled", file=sys.stderr)
        return JobCancelled.exit_code
    except MouthpieceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def tqdm_progress(desc: str) -> Iterator[Callable[[float, str], None]]:
    """A core progress callback (fraction, message) drawn as one tqdm bar on the terminal."""
    from tqdm import tqdm

    with tqdm(total=1000, desc=desc, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}") as bar:
        def report(fraction: float, message: str) -> None:
            bar.set_postfix_str(message[-60:])
            bar.update(max(int(fraction * 1000) - bar.n, 0))

        yield report


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return guarded(args.func, args)
