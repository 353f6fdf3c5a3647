"""`python -m core portrait`: animate a photo with a driving audio track, or write the preview images."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from core.audio.cli import add_audio_args
from core.errors import BadInputError

from .moda.motion import EMOTIONS


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("portrait", help="animate a photo from speech (MoDA + LivePortrait)",
                              description="Animate a portrait photo so it speaks the driving audio.")
    p.add_argument("--image", required=True, help="portrait photo")
    p.add_argument("--audio", required=True, help="driving speech (any audio format, or a video's audio track)")
    p.add_argument("--out", help="output .mp4 (required unless --preview)")
    add_audio_args(p)
    p.add_argument("--emotion", default="none", choices=["none", *EMOTIONS])
    p.add_argument("--cfg", type=float, default=1.2, help="audio guidance scale (<= 1 disables CFG)")
    p.add_argument("--steps", type=int, default=10, help="sampling steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoothing", type=int, default=3, help="head-pose smoothing window in frames (1 = off)")
    p.add_argument("--head-motion", type=float, default=1.0, help="scale of the generated head motion (0 = still)")
    p.add_argument("--crop-scale", type=float, default=2.3, help="face crop size relative to the face")
    p.add_argument("--no-pasteback", action="store_true", help="output the 512x512 animated crop only")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--face", type=int, default=0, help="face number, largest first (default 0)")
    who.add_argument("--box", help="x1,y1,x2,y2: manual face box (skips face detection)")
    p.add_argument("--max-side", type=int, default=0, help="downscale photos larger than this (0 = keep size)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32", help="renderer precision")
    p.add_argument("--batch", type=int, default=0, help="frames rendered per batch (0 = auto: 25 GPU, 4 CPU)")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality (lower = better, 0-51)")
    p.add_argument("--preview", metavar="PNG", help="write the first frame here (crop overlay as *_crop.png) and exit")
    p.add_argument("--checkpoints", help="checkpoints folder")
    p.set_defaults(func=main)


def parse_box(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise BadInputError(f"bad box {text!r}: expected x1,y1,x2,y2")
    return box


def request_from_args(args: argparse.Namespace):
    from .pipeline import PortraitRequest

    return PortraitRequest(
        image=args.image, audio=args.audio, start=args.start, end=args.end, separate_vocals=args.separate_vocals,
        keep_audio=args.keep_audio, normalize=args.normalize, peak_dbfs=args.peak_dbfs,
        loudness_lufs=args.loudness_lufs, emotion=args.emotion, cfg_scale=args.cfg, steps=args.steps,
        seed=args.seed, smoothing=args.smoothing, head_motion=args.head_motion, crop_scale=args.crop_scale,
        pasteback=not args.no_pasteback, face_index=args.face or 0, box=parse_box(args.box),
        max_side=args.max_side, device=args.device, dtype=args.dtype, render_batch=args.batch, crf=args.crf)


def main(args: argparse.Namespace) -> int:
    from core import jobs, paths
    from core.cli import run_engine

    from .pipeline import preview, run

    if args.checkpoints:
        paths.set_checkpoints_dir(args.checkpoints)
    req = request_from_args(args)
    req.validate()
    if args.preview:
        result = jobs.run_job("portrait", preview, req)
        target = Path(args.preview)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.extra["frame_image"], target)
        shutil.copyfile(result.extra["crop_image"], target.with_name(target.stem + "_crop.png"))
        print(f"{target}\ncrop box {[round(v, 1) for v in result.extra['crop_box']]}")
        return 0
    if not args.out:
        raise BadInputError("--out is required (or --preview PNG)")
    return run_engine("portrait", run, req, args.out)
