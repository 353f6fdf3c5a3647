"""Decode and encode throughput of core.media on this machine (720p, 25 fps).

    python bench/media.py [--seconds 8] [--presets medium,veryfast]

Content: the astronaut portrait stretched to 1280x720, slowly zooming and drifting (tests.samples.talking_clip).
Decode: iter_video_frames() of that H.264 clip to upright RGB at 25 fps.
Encode: VideoWriter (libx264, yuv420p, crf 18) from in-memory RGB frames, with an AAC track muxed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.media import VideoWriter, iter_video_frames, probe
from tests.samples import talking_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--presets", default="medium,veryfast")
    args = ap.parse_args()
    size, fps = (1280, 720), 25
    print(f"cpu cores: {os.cpu_count()}  size: {size[0]}x{size[1]}  fps: {fps}")
    with tempfile.TemporaryDirectory() as tmp:
        src = talking_clip(Path(tmp) / "src.mp4", seconds=args.seconds, fps=fps, size=size)
        info = probe(src)
        t = time.perf_counter()
        n = sum(1 for _ in iter_video_frames(src, fps=25.0))
        dt = time.perf_counter() - t
        print(f"decode  {info.width}x{info.height} h264 -> RGB @25fps: {n} frames in {dt:.2f}s = {n / dt:.1f} frames/s")

        frames = list(iter_video_frames(src, fps=25.0, end=2.0))
        n = int(args.seconds * fps)
        sr = 16000
        tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(args.seconds * sr)) / sr)).astype(np.float32)
        for preset in args.presets.split(","):
            t = time.perf_counter()
            with VideoWriter(Path(tmp) / f"out_{preset}.mp4", fps=fps, audio=(tone, sr), preset=preset) as w:
                for i in range(n):
                    w.write(frames[i % len(frames)])
            dt = time.perf_counter() - t
            print(f"encode  libx264 crf18 preset={preset} + AAC: {w.frames_written} frames in {dt:.2f}s "
                  f"= {w.frames_written / dt:.1f} frames/s")


if __name__ == "__main__":
    main()
