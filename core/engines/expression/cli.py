"""`python -m core expression`: every request field is a flag through ``core.spec``; here only the values that are
files to read or several fields at once: ``--edit NAME=V,...``, ``--keyframes FILE``, ``--timeline FILE`` (or
``--emotion`` with ``--emotion-strength`` for one emotion over the whole clip) and ``--crossfade``, whose default
comes from the timeline file."""
from __future__ import annotations

import argparse
from typing import Any

from core.errors import BadInputError
from core.liveportrait.expression import SLIDER_BY_NAME
from core.moda.motion import EMOTIONS, OVERLAP
from core.request import read_yaml

from . import spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--edit", default="", metavar="NAME=V,...",
                   help=f"constant face edits, e.g. smile=0.6,yaw=10; names: {', '.join(SLIDER_BY_NAME)}")
    p.add_argument("--keyframes", metavar="FILE.yaml", help="keyframes: a list of {time, easing, slider: value}")
    p.add_argument("--timeline", metavar="FILE.yaml",
                   help="emotion timeline: a list of {start, end, emotion, strength} (photo + audio)")
    p.add_argument("--emotion", choices=["none", *EMOTIONS], help="one emotion for the whole clip (no --timeline)")
    p.add_argument("--emotion-strength", type=float, default=2.0, help="its strength (with --emotion)")
    p.add_argument("--crossfade", type=int, default=None,
                   help=f"frames an emotion change blends over [1..16] (default: the file's, else {OVERLAP})")


def extra_fields(args: argparse.Namespace) -> dict[str, Any]:
    timeline, crossfade = spec.split_timeline(read_yaml(args.timeline, "timeline") if args.timeline else [])
    crossfade = args.crossfade if args.crossfade is not None else crossfade
    if args.emotion:
        if timeline:
            raise BadInputError("give --emotion or --timeline, not both")
        timeline = [{"start": 0.0, "end": None, "emotion": args.emotion, "strength": args.emotion_strength}]
    keyframes = read_yaml(args.keyframes, "keyframes") if args.keyframes else []
    return {"edits": spec.parse_edits(args.edit), "keyframes": keyframes or [], "timeline": timeline,
            "crossfade": OVERLAP if crossfade is None else crossfade}
