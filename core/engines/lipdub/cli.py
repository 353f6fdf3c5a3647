"""`python -m core lipdub`: dub a video (or photo) to an audio track, or write the first-frame preview."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from core.audio.cli import add_audio_args
from core.errors import BadInputError

from .request import LipdubRequest


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("lipdub", help="lip-dub a video or photo with MuseTalk",
                              description="Lip-dub a video or photo to a driving audio track (MuseTalk 1.5 / 1.0).")
    p.add_argument("--video", required=True, help="video or image to dub")
    p.add_argument("--audio", required=True, help="driving audio (any format, or a video's audio track)")
    p.add_argument("--out", help="output .mp4 (required unless --preview)")
    p.add_argument("--version", choices=["v15", "v1"], default="v15")
    p.add_argument("--bbox-shift", type=int, default=0, help="px added to the nose anchor (moves the mask's top edge)")
    p.add_argument("--extra-margin", type=int, default=10, help="v1.5: px added below the chin (0-40)")
    p.add_argument("--parsing", choices=["jaw", "raw"], default="jaw", help="v1.5 blend mask mode")
    p.add_argument("--cheeks", type=int, nargs=2, metavar=("L", "R"), default=(90, 90),
                   help="jaw mode cheek widths (20-160)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--face", type=int, help="face number from the left (0 = leftmost); default the largest")
    who.add_argument("--point", help="x,y: dub the face under this point of the first frame")
    who.add_argument("--box", help="x1,y1,x2,y2: manual crop box (skips face detection)")
    p.add_argument("--no-smooth", action="store_true", help="no temporal box smoothing (reference-exact crops)")
    p.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    add_audio_args(p)
    p.add_argument("--crf", type=int, default=18, help="H.264 quality (lower = better, 0-51)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the prepared-video cache")
    p.add_argument("--preview", metavar="PNG", help="write the first-frame preview (dubbed) here and exit; "
                                                   "the overlay goes next to it as *_overlay.png")
    p.add_argument("--checkpoints", help="checkpoints folder")
    p.set_defaults(func=main)


def request_from_args(args: argparse.Namespace) -> LipdubRequest:
    point = None
    if args.point:
        try:
            point = [float(v) for v in args.point.split(",")]
        except ValueError:
            point = []
        if len(point) != 2:
            raise BadInputError(f"bad point {args.point!r}: expected x,y")
    return LipdubRequest(
        video=args.video, audio=args.audio, version=args.version, bbox_shift=args.bbox_shift,
        extra_margin=args.extra_margin, parsing_mode=args.parsing, left_cheek_width=args.cheeks[0],
        right_cheek_width=args.cheeks[1], batch_size=args.batch, device=args.device, dtype=args.dtype,
        seed=args.seed, face=args.face, face_point=point, box=args.box, smooth=not args.no_smooth,
        start=args.start, end=args.end, separate_vocals=args.separate_vocals, keep_audio=args.keep_audio,
        normalize=args.normalize, peak_dbfs=args.peak_dbfs, loudness_lufs=args.loudness_lufs, crf=args.crf,
        use_cache=not args.no_cache, checkpoints=args.checkpoints)


def main(args: argparse.Namespace) -> int:
    from core import jobs, paths
    from core.cli import run_engine

    from .engine import preview, run

    if args.checkpoints:  # the audio separator and the job's test-weights check read the same folder
        paths.set_checkpoints_dir(args.checkpoints)
    for path in (args.video, args.audio):
        if not Path(path).is_file():
            raise BadInputError(f"no such file: {path}")
    req = request_from_args(args).validate()
    if args.preview:
        result = jobs.run_job("lipdub", preview, req)
        target = Path(args.preview)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.extra["dubbed"], target)
        shutil.copyfile(result.extra["overlay"], target.with_name(target.stem + "_overlay.png"))
        lo_hi = result.extra.get("bbox_range")
        print(f"{target}\ncrop box {result.extra['crop_box']}"
              + (f"; suggested bbox_shift range [{lo_hi[0]}, {lo_hi[1]}]" if lo_hi else ""))
        return 0
    if not args.out:
        raise BadInputError("--out is required (or --preview PNG)")
    return run_engine("lipdub", run, req, args.out)
