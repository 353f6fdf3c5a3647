"""`python -m core portrait`: MoDA's own flags; the shared ones (audio, output, face, device, ...) come from core.cli."""
from __future__ import annotations

import argparse
from typing import Any

from core.request import read_yaml

from core.moda.motion import EMOTIONS, OVERLAP
from .request import PortraitRequest


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", required=True, help="portrait photo")
    p.add_argument("--emotion", default="none", choices=["none", *EMOTIONS])
    p.add_argument("--emotion-strength", type=float, default=0.0,
                   help="extra guidance towards the emotion (0 = MoDA's own output; the reference's 8/1.2 is 6.8)")
    p.add_argument("--timeline", metavar="FILE.yaml",
                   help="emotion over time: a list of {start, end, emotion, strength} rows (instead of --emotion)")
    p.add_argument("--crossfade", type=int, default=None, help="frames an emotion change blends over (1-16)")
    p.add_argument("--cfg", type=float, default=1.2, help="audio guidance scale (<= 1 disables CFG)")
    p.add_argument("--steps", type=int, default=10, help="sampling steps")
    p.add_argument("--smoothing", type=int, default=3, help="head-pose smoothing window in frames (1 = off)")
    p.add_argument("--head-motion", type=float, default=1.0, help="scale of the generated head motion (0 = still)")
    p.add_argument("--crop-scale", type=float, default=2.3, help="face crop size relative to the face")
    p.add_argument("--no-pasteback", action="store_true", help="output the 512x512 animated crop only")
    p.add_argument("--max-side", type=int, default=PortraitRequest.max_side,
                   help="working size: photos whose longer side exceeds it are downscaled, with a warning (0 = keep)")
    p.add_argument("--batch", type=int, default=0, help="frames rendered per batch (0 = auto: 25 GPU, 4 CPU)")


def request_from_args(args: argparse.Namespace, common: dict[str, Any]) -> PortraitRequest:
    data = read_yaml(args.timeline, "timeline") if args.timeline else []
    rows, given = (data.get("segments") or [], data.get("crossfade")) if isinstance(data, dict) else (data or [], None)
    return PortraitRequest(
        image=args.image, emotion=args.emotion, emotion_strength=args.emotion_strength, timeline=rows,
        crossfade=int(args.crossfade or given or OVERLAP),
        cfg_scale=args.cfg, steps=args.steps, smoothing=args.smoothing,
        head_motion=args.head_motion, crop_scale=args.crop_scale, pasteback=not args.no_pasteback,
        max_side=args.max_side, render_batch=args.batch, **common)
