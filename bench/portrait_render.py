"""Throughput of the LivePortrait renderer (full-size random weights) and of paste-back.

    flock /tmp/mouthpiece-heavy.lock python bench/portrait_render.py [--device cpu|cuda] [--dtype fp32|fp16]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.device import resolve_device, resolve_dtype
from core.liveportrait.crop.geometry import crop_matrix_from_box
from core.liveportrait import LivePortraitConfig, LivePortraitRenderer
from core.liveportrait.pasteback import PasteBack


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="fp32")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--photo", type=int, default=1024, help="square photo side for paste-back")
    args = ap.parse_args()
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    torch.manual_seed(0)

    r = LivePortraitRenderer(LivePortraitConfig(), device=device, dtype=dtype)  # full size, random init
    src = r.extract_source(torch.rand(1, 3, 256, 256, device=device))
    x_d = src.x_s + 0.01 * torch.randn(args.batch, 21, 3, device=device)
    sec = timed(lambda: r.render(src, x_d, batch_size=args.batch), args.repeats, device)
    print(f"render {device} {args.dtype} batch {args.batch}: {sec:.2f} s/batch = {args.batch / sec:.2f} frames/s")

    n = args.photo
    photo = np.random.default_rng(0).integers(0, 256, (n, n, 3), dtype=np.uint8)
    m_o2c = crop_matrix_from_box((n * 0.35, n * 0.3, n * 0.65, n * 0.6))  # face ~30% of the photo side
    paste = PasteBack(photo, SimpleNamespace(M_c2o=np.linalg.inv(m_o2c)), device=device)
    frames = torch.rand(args.batch, 3, 512, 512, device=device)
    sec = timed(lambda: paste(frames), args.repeats * 3, device)
    print(f"paste-back {device} {n}x{n} batch {args.batch}: {args.batch / sec:.1f} frames/s "
          f"(ROI {paste.roi})")


if __name__ == "__main__":
    main()
