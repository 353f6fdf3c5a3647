"""Download the official model weights into checkpoints/ (resumable; present files are skipped).

    python download_weights.py                 # every engine
    python download_weights.py --engine lipdub
    python download_weights.py --list          # what each engine needs and what is present
"""
import argparse
import sys

from core.cli import guarded
from core.weights import cli


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    names = cli.selected(args)
    return cli.list_files(names, args.checkpoints) if args.list else cli.download_with_bar(names, args.checkpoints)


if __name__ == "__main__":
    sys.exit(guarded(main))
