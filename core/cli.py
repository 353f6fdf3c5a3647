"""`python -m core`: one subcommand per engine, all calling the same core functions as the UI.

Exit codes: 0 success, 2 bad input (one line on stderr), 3 missing weights (names the files and the download command).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from core.errors import MouthpieceError

CLI_MODULES = [
    "core.weights.cli",
    "core.engines.lipdub.cli",
    "core.engines.portrait.cli",
    "core.audio.cli",
]


def _present(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package failed to import: treat the piece as absent, the rest keeps working
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Mouthpiece: audio-driven talking video.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in CLI_MODULES:
        if _present(name):
            importlib.import_module(name).add_parser(subparsers)
    return parser


def guarded(fn: Callable[..., int], *args) -> int:
    """Run a command; creator-facing errors become one stderr line and their exit code, never a traceback."""
    try:
        return fn(*args) or 0
    except MouthpieceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def tqdm_progress(desc: str) -> Iterator[Callable[[float, str], None]]:
    """A core progress callback (fraction, message) drawn as one tqdm bar on the terminal."""
    from tqdm import tqdm

    with tqdm(total=1000, desc=desc, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}") as bar:
        def report(fraction: float, message: str) -> None:
            bar.set_postfix_str(message[-60:])
            bar.update(max(int(fraction * 1000) - bar.n, 0))

        yield report


def run_engine(engine: str, fn: Callable, request: Any, out: str | Path | None = None) -> int:
    """Run an engine job with a tqdm bar, copy its output to ``out``, print warnings and timings. Engine CLIs call this."""
    from core import jobs

    with tqdm_progress(engine) as report:
        result = jobs.run_job(engine, fn, request, progress=report)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    target = jobs.deliver(result, out) if out and result.output else result.output
    print(f"{target}\n{result.summary()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return guarded(args.func, args)
