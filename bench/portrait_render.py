"""Throughput of the LivePortrait renderer (full-size random weights) and of paste-back.

    flock /tmp/mouthpiece-heavy.lock python bench/portrait_render.py [--device cpu|cuda] [--dtype fp32|fp16]
        [--paste-only]

Paste-back is timed per frame on a quiet CPU and with a busy loop pinned to one of its cores, side by side with
the reference's path (``parse_output`` + full-size ``cv2.warpAffine`` + numpy blend, tests/golden/) and with ours
as it was before issue 12 (small two-thread torch ops).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.busy import print_table, side_by_side
from core.device import resolve_device, resolve_dtype
from core.liveportrait import LivePortraitConfig, LivePortraitRenderer
from core.liveportrait.pasteback import PasteBack
from tests.golden import portrait_pasteback as G


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
    ap.add_argument("--paste-only", action="store_true", help="skip the renderer")
    args = ap.parse_args()
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    torch.manual_seed(0)

    if not args.paste_only:
        render_speed(args, device, dtype)
    paste_speed(args.photo, args.repeats * 10)


def render_speed(args, device: torch.device, dtype) -> None:
    r = LivePortraitRenderer(LivePortraitConfig(), device=device, dtype=dtype)  # full size, random init
    src = r.extract_source(torch.rand(1, 3, 256, 256, device=device))
    x_d = src.x_s + 0.01 * torch.randn(args.batch, 21, 3, device=device)
    sec = timed(lambda: r.render(src, x_d, batch_size=args.batch), args.repeats, device)
    print(f"render {device} {args.dtype} batch {args.batch}: {sec:.2f} s/batch = {args.batch / sec:.2f} frames/s")


def paste_speed(side: int, repeats: int) -> None:
    """One frame at a time, as the pipeline's batches reach it on the CPU."""
    rows = {}
    for n in sorted({512, side}):
        rows.update(paste_paths(n))
    print_table("paste-back", side_by_side(rows, repeats))


def paste_paths(n: int) -> dict:
    """Ours, ours before issue 12 and the reference's, for an n x n photo."""
    photo, m_c2o, render = G.inputs(n, batch=1)
    ours = PasteBack(photo, SimpleNamespace(M_c2o=m_c2o))
    old = G.old_pasteback()(photo, SimpleNamespace(M_c2o=m_c2o))
    return {f"ours {n}x{n}": lambda: ours(render),
            f"before issue 12 {n}x{n}": lambda: old(render),
            f"reference {n}x{n}": lambda: G.reference_paste(render, photo, m_c2o)}


if __name__ == "__main__":
    main()
