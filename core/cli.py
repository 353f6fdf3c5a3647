"""`python -m core`: one subcommand per registered engine (``core.engine.ENGINES``), all calling the same core
functions as the UI.

Each engine subcommand gets one flag per declared request field (``core.spec``: the engine's own, the audio flags,
and the shared output, face, device, precision, seed, CRF and checkpoints), so every engine spells them the same;
``<engine>.cli`` adds only the flags that are not plain fields (``add_arguments``) and maps them (``extra_fields``).
Exit codes: 0 success, 2 bad input (one line on stderr),
3 missing weights (names the files and the download command), 130 cancelled (Ctrl-C or SIGTERM: the job stops at its
next batch, leaving no partial output).
"""
from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from core.errors import BadInputError, JobCancelled, MouthpieceError
from core.progress import tqdm_progress


def add_request_arguments(parser: argparse.ArgumentParser, request_type: type) -> None:
    """Every declared field of the request as a flag (``core.spec``): the engine's own first, then the audio flags,
    then the shared ones (output, face, device, precision, seed, CRF, checkpoints)."""
    from core import spec
    from core.audio.cli import add_audio_args
    from core.request import EngineRequest, FaceRequest

    shared = {s.name for s in spec.specs(FaceRequest if issubclass(request_type, FaceRequest) else EngineRequest)}
    own = {s.name for s in spec.specs(request_type)} - shared
    spec.add_flags(parser.add_argument_group("engine options"), request_type, names=own)
    add_audio_args(parser, required=request_type.needs_audio)
    spec.add_flags(parser.add_argument_group("shared options"), request_type, names=shared)
    parser.add_argument("--preview", metavar="PNG", help="write the preview image here (side images next to it, "
                                                         "as PNG_<name>.png) and exit")


def request_from_args(engine, args: argparse.Namespace):
    """The request the flags describe: the declared fields, the audio options, and the engine's hand-written flags
    (``cli.extra_fields(args)``, for values that are files to read or several fields at once). Not validated yet."""
    from core import spec
    from core.audio.cli import audio_options_from_args

    request_type = engine.request_type
    values = spec.flag_values(request_type, args)
    values["audio"] = audio_options_from_args(args) if args.audio else None
    extra = getattr(engine.cli, "extra_fields", None)
    if extra is not None:
        values.update(extra(args))
    return request_type(**values)


def _engine_command(engine) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from core import jobs
        from core.request import check_output

        if not args.preview and not args.output:
            raise BadInputError("--out is required (or --preview PNG)")
        if args.preview:
            args.output = None
            check_output(args.preview, (".png",))  # writable, before any work (like --out)
        req = request_from_args(engine, args).validate()
        if args.preview:
            with tqdm_progress(f"{engine.name} preview") as report:
                result = jobs.run_job(engine.name, engine.preview, req, progress=report, cancel_event=TERMINATED)
            _print_warnings(result)
            target = jobs.deliver(result, args.preview)  # an OSError here is one line saying where the preview is
            print(target)
            for name, path in result.extra.get("images", {}).items():
                side = target.with_name(f"{target.stem}_{name}{target.suffix}")
                shutil.copyfile(path, side)
                print(side)
            for line in result.extra.get("notes", []):
                print(line)
            return 0
        with tqdm_progress(engine.name) as report:
            result = jobs.run_job(engine.name, engine.run, req, progress=report, cancel_event=TERMINATED)
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
            hand_written = getattr(engine.cli, "add_arguments", None)
            if hand_written is not None:
                hand_written(p)
            add_request_arguments(p, engine.request_type)
            p.set_defaults(func=_engine_command(engine))
        else:
            engine.cli.add_parser(subparsers)
    from core.weights import cli as weights_cli

    weights_cli.add_parser(subparsers)
    return parser


# Set by SIGTERM (and Ctrl-C) for the rest of the process: the CLI's job is started with it as its cancel event, so a
# cancel whose exception some library swallowed (a try/except around an optional import or a load) still stops the
# job at its next batch.
TERMINATED = threading.Event()


def _on_term(signum, frame):
    TERMINATED.set()
    raise JobCancelled("terminated")


def cancel_on_sigterm() -> None:
    """Turn SIGTERM into a cancellation (in the main thread only: Python delivers signals there)."""
    if _main_thread():
        signal.signal(signal.SIGTERM, _on_term)


def report_cancelled(exc: JobCancelled | KeyboardInterrupt) -> int:
    """A cancel (SIGTERM, Ctrl-C) that ended the CLI: "cancelled" on stderr, exit code 130."""
    TERMINATED.set()
    print("cancelled", file=sys.stderr)
    return JobCancelled.exit_code


def guarded(fn: Callable[..., int], *args) -> int:
    """Run a command; creator-facing errors become one stderr line and their exit code, never a traceback.

    SIGTERM is turned into a cancellation, like Ctrl-C: the running job stops at once (or at its next batch where the
    signal landed in code that swallowed the exception) and removes its partial output before the process exits with
    130. A cancel is never reported as another error: any exception raised after a signal counts as the cancel.
    """
    previous = signal.signal(signal.SIGTERM, _on_term) if _main_thread() else None
    try:
        return fn(*args) or 0
    except (JobCancelled, KeyboardInterrupt) as exc:
        return report_cancelled(exc)
    except MouthpieceError as exc:
        if TERMINATED.is_set():
            return report_cancelled(JobCancelled("terminated"))
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception:
        if TERMINATED.is_set():  # a library wrapped the signal's exception in its own
            return report_cancelled(JobCancelled("terminated"))
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def main(argv: Sequence[str] | None = None) -> int:
    TERMINATED.clear()  # a new command (tests call main() repeatedly in one process)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return guarded(args.func, args)
