"""`python -m core lipdub`: every request field is a flag through ``core.spec``; here only ``--cheeks L R``, the older
spelling of ``--left-cheek-width L --right-cheek-width R``, and the pre-spec spellings ``--no-smooth``/``--no-cache``
(which ``--smooth``/``--cache`` already give)."""
from __future__ import annotations

import argparse
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cheeks", type=int, nargs=2, metavar=("L", "R"),
                   help="jaw mode cheek widths, left and right (same as --left-cheek-width L --right-cheek-width R)")


def extra_fields(args: argparse.Namespace) -> dict[str, Any]:
    return {} if args.cheeks is None else {"left_cheek_width": args.cheeks[0], "right_cheek_width": args.cheeks[1]}
