"""`python -m core portrait`: every request field is a flag through ``core.spec``; here only the emotion timeline,
read from a YAML file (a list of {start, end, emotion, strength} rows, or {segments, crossfade}), and ``--crossfade``,
whose default comes from that file."""
from __future__ import annotations

import argparse
from typing import Any

from core.moda.motion import OVERLAP
from core.request import read_yaml


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeline", metavar="FILE.yaml",
                   help="emotion over time: a list of {start, end, emotion, strength} rows (instead of --emotion)")
    p.add_argument("--crossfade", type=int, default=None,
                   help=f"frames an emotion change blends over [1..16] (default: the file's, else {OVERLAP})")


def extra_fields(args: argparse.Namespace) -> dict[str, Any]:
    data = read_yaml(args.timeline, "timeline") if args.timeline else []
    rows, given = (data.get("segments") or [], data.get("crossfade")) if isinstance(data, dict) else (data or [], None)
    return {"timeline": rows, "crossfade": int(args.crossfade or given or OVERLAP)}
