"""`python -m core expression`: photo or video in, face edits / keyframes / emotion timeline; the shared flags
(audio, output, face, device, ...) come from core.cli."""
from __future__ import annotations

import argparse
from typing import Any

from core.moda.motion import EMOTIONS, OVERLAP
from core.errors import BadInputError
from core.liveportrait.expression import SLIDER_BY_NAME, TRANSFER_PARTS
from core.request import read_yaml

from . import spec
from .request import ExpressionRequest


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="photo to edit (with --audio: to animate)")
    src.add_argument("--video", help="video whose expressions to edit (its sound is kept)")
    p.add_argument("--edit", default="", metavar="NAME=V,...",
                   help=f"constant face edits, e.g. smile=0.6,yaw=10; names: {', '.join(SLIDER_BY_NAME)}")
    p.add_argument("--keyframes", metavar="FILE.yaml", help="keyframes: a list of {time, easing, slider: value}")
    p.add_argument("--timeline", metavar="FILE.yaml",
                   help="emotion timeline: a list of {start, end, emotion, strength} (photo + audio)")
    p.add_argument("--emotion", choices=["none", *EMOTIONS], help="one emotion for the whole clip (no --timeline)")
    p.add_argument("--emotion-strength", type=float, default=2.0, help="its strength (with --emotion)")
    p.add_argument("--crossfade", type=int, default=None, help=f"frames an emotion change blends over (1..{OVERLAP})")
    p.add_argument("--blink-rate", type=float, default=0.0, help="auto blinks per minute (0 = off)")
    p.add_argument("--source-ratio", type=float, default=1.0, help="keep this much of the photo's own expression")
    p.add_argument("--eyes-open-ratio", type=float, help="target eyes-open ratio (0..0.8, retargeting MLP)")
    p.add_argument("--lip-open-ratio", type=float, help="target lip-open ratio (0..0.8, retargeting MLP)")
    p.add_argument("--transfer", metavar="PHOTO", help="copy expression / pose from this photo")
    p.add_argument("--transfer-parts", default="expression", choices=TRANSFER_PARTS)
    p.add_argument("--transfer-ratio", type=float, default=1.0)
    p.add_argument("--head-motion", type=float, default=1.0, help="scale of the generated head motion")
    p.add_argument("--cfg", type=float, default=1.2, help="MoDA audio guidance scale")
    p.add_argument("--steps", type=int, default=10, help="MoDA sampling steps")
    p.add_argument("--smoothing", type=int, default=3, help="motion smoothing window in frames (1 = off)")
    p.add_argument("--crop-scale", type=float, default=2.3)
    p.add_argument("--batch", type=int, default=0, help="frames rendered per batch (0 = auto)")


def request_from_args(args: argparse.Namespace, common: dict[str, Any]) -> ExpressionRequest:
    timeline, crossfade = spec.split_timeline(read_yaml(args.timeline, "timeline") if args.timeline else [])
    crossfade = args.crossfade if args.crossfade is not None else crossfade
    if args.emotion:
        if timeline:
            raise BadInputError("give --emotion or --timeline, not both")
        timeline = [{"start": 0.0, "end": None, "emotion": args.emotion, "strength": args.emotion_strength}]
    keyframes = read_yaml(args.keyframes, "keyframes") if args.keyframes else []
    return ExpressionRequest(
        image=args.image, video=args.video, edits=spec.parse_edits(args.edit), keyframes=keyframes or [],
        timeline=timeline, crossfade=OVERLAP if crossfade is None else crossfade,
        blink_rate=args.blink_rate, source_ratio=args.source_ratio, eyes_open_ratio=args.eyes_open_ratio,
        lip_open_ratio=args.lip_open_ratio, transfer_image=args.transfer, transfer_parts=args.transfer_parts,
        transfer_ratio=args.transfer_ratio, head_motion=args.head_motion, cfg_scale=args.cfg, steps=args.steps,
        smoothing=args.smoothing, crop_scale=args.crop_scale, render_batch=args.batch, **common)
