"""`python -m core weights`: list, download, or write tiny test checkpoints."""
from __future__ import annotations

import argparse

from core import weights
from core.weights import hub


def _human(size: int | None) -> str:
    if not size:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return "?"


def list_files(engine_names: list[str], root: str | None = None) -> int:
    """Print each engine's files, whether each is present, its exact size and a total per engine. Sizes come from the
    hub when it can be reached (and are cached beside the checkpoints for offline listings), else from the cache or
    the manifest; when some stay unknown, one line says why."""
    base = weights.root_dir(root)
    print(f"checkpoints: {base}" + ("  (tiny TEST weights)" if weights.is_test_checkpoints(base) else ""))
    every = [item for engine in engine_names for item in weights.files(engine)]
    answers, why_not = hub.refresh(every, base)
    for engine in engine_names:
        gone = {f.local for f in weights.missing(engine, base)}
        print(f"\n{engine} — {weights.title(engine)}: {'ready' if not gone else f'{len(gone)} missing'}")
        sizes = []
        for item in weights.files(engine):
            size, _ = hub.known(item, answers)
            sizes.append(size)
            mark = "missing" if item.local in gone else "present"
            print(f"  [{mark:7}] {item.local:70} {_human(size):>9}  {item.source}")
        print(f"  {'total':79} {_total(sizes)}")
    unknown = [item for item in every if item.repo_id and not hub.known(item, answers)[0]]
    if unknown and why_not:
        print(f"\nsizes of {len(unknown)} hub file(s) are unknown until the hub is reachable ({why_not})")
    return 0


def _total(sizes: list[int | None]) -> str:
    """The engine's download size: the sum of the known sizes, and how many files have none listed."""
    known = [size for size in sizes if size]
    unknown = len(sizes) - len(known)
    return _human(sum(known)) + (f" + {unknown} file(s) of unknown size" if unknown else "")


def download_with_bar(engine_names: list[str], root: str | None = None) -> int:
    from core.progress import tqdm_progress

    for engine in engine_names:
        with tqdm_progress(engine) as report:
            weights.download(engine, root, progress=report)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", action="append", help="only this engine (repeatable); default: all")
    parser.add_argument("--list", action="store_true", help="list files and whether each is present")
    parser.add_argument("--checkpoints", help="checkpoints folder (default ./checkpoints or $MOUTHPIECE_CHECKPOINTS)")


def selected(args: argparse.Namespace) -> list[str]:
    return args.engine or weights.engines()


def _run(args: argparse.Namespace) -> int:
    names = selected(args)
    if args.make_test_checkpoints:
        root = weights.make_test_checkpoints(args.make_test_checkpoints, args.engine)
        print(f"wrote tiny random test checkpoints for {', '.join(names)} to {root}")
        return 0
    if args.download:
        return download_with_bar(names, args.checkpoints)
    return list_files(names, args.checkpoints)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("weights", help="list or download model weights; write tiny test checkpoints")
    add_arguments(parser)
    parser.add_argument("--download", action="store_true", help="download missing files")
    parser.add_argument("--make-test-checkpoints", metavar="DIR",
                        help="write tiny random weights in the official layouts to DIR (offline smoke runs)")
    parser.set_defaults(func=_run)
