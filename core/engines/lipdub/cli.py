"""`python -m core lipdub`: MuseTalk's own flags; the shared ones (audio, output, face, device, ...) come from core.cli."""
from __future__ import annotations

import argparse
from typing import Any

from .request import LipdubRequest


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", required=True, help="video or image to dub")
    p.add_argument("--version", choices=["v15", "v1"], default="v15")
    p.add_argument("--bbox-shift", type=int, default=0, help="px added to the nose anchor (moves the mask's top edge)")
    p.add_argument("--extra-margin", type=int, default=10, help="v1.5: px added below the chin (0-40)")
    p.add_argument("--parsing", choices=["jaw", "raw"], default="jaw", help="v1.5 blend mask mode")
    p.add_argument("--cheeks", type=int, nargs=2, metavar=("L", "R"), default=(90, 90),
                   help="jaw mode cheek widths (20-160)")
    p.add_argument("--no-smooth", action="store_true", help="no temporal box smoothing (reference-exact crops)")
    p.add_argument("--batch", type=int, default=16, help="frames per batch")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the prepared-video cache")
    p.add_argument("--max-side", type=int, default=LipdubRequest.max_side,
                   help="working size: a video or photo whose longer side exceeds it is dubbed downscaled (0 = keep)")


def request_from_args(args: argparse.Namespace, common: dict[str, Any]) -> LipdubRequest:
    return LipdubRequest(
        video=args.video, version=args.version, bbox_shift=args.bbox_shift, extra_margin=args.extra_margin,
        parsing_mode=args.parsing, left_cheek_width=args.cheeks[0], right_cheek_width=args.cheeks[1],
        batch_size=args.batch, smooth=not args.no_smooth, use_cache=not args.no_cache, max_side=args.max_side,
        **common)
