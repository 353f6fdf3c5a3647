"""Expression control speed with full-size random LivePortrait weights: live-preview latency (render only, the
prepared face cached as in the studio) and video-edit throughput at 512 px, with the peak memory of each memory
profile (peak VRAM on CUDA, where each profile runs with freshly placed models; peak RAM on the CPU, where the
profiles change nothing and ``auto`` alone runs; ``bench/profiles.py``).

    flock /tmp/mouthpiece-heavy.lock python bench/expression.py [--device cpu|cuda] [--dtype fp16] [--seconds 1]
        [--memory full offload low]

Weights: the same full-size random set bench/portrait.py writes (official layouts, KwaiVGI's LivePortrait set; the
ONNX face models are the tiny test ones, whose detector is skipped with a manual face box). Photo: scikit-image's
astronaut (512x512), face box given.
Video: that photo drifting and zooming (tests.samples.talking_clip) at 512x512, 25 fps.

Measured 2026-11-29 on the CPU (2 cores shared with other jobs, load average 6-7, fp32): live preview 27.3 s per
slider release (render 27.1 s of it; the first call 32 s with loading and cropping); video edit 0.03 fps (5 frames
in 198 s: render incl. per-frame feature extraction 182 s, motion extraction 12 s, crop 3 s). No GPU was available.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BOX = [185, 70, 275, 185]


def main() -> None:
    import torch

    from bench import profiles
    from bench.portrait import write_full_weights
    from core.cache import default_cache

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default=None, help="fp32 | fp16 | bf16 (default fp16 on CUDA)")
    ap.add_argument("--seconds", type=float, default=None, help="video length (default 4 on CUDA, 0.2 on CPU)")
    ap.add_argument("--previews", type=int, default=3)
    ap.add_argument("--weights", default=str(Path(tempfile.gettempdir()) / "mouthpiece-bench-portrait"))
    ap.add_argument("--memory", nargs="+", help="memory profiles (default: full offload low on CUDA, auto on CPU)")
    args = ap.parse_args()
    cuda = torch.cuda.is_available() and args.device in ("auto", "cuda")
    dtype = args.dtype or ("fp16" if cuda else "fp32")
    seconds = args.seconds or (4.0 if cuda else 0.2)
    write_full_weights(Path(args.weights))
    print(f"device {'cuda ' + torch.cuda.get_device_name() if cuda else 'cpu'} ({os.cpu_count()} cores, "
          f"{torch.get_num_threads()} threads), dtype {dtype}")
    for memory in profiles.profiles(args.memory, cuda):
        default_cache().unload_all()   # each profile loads and places its own models
        profiles.start(cuda)
        print(f"memory profile {memory}")
        measure(args, memory, dtype, seconds)
        what, mib = profiles.peak(cuda)
        print(f"{what} ({memory}): {mib:.0f} MiB")


def measure(args, memory: str, dtype: str, seconds: float) -> None:
    """The live-preview latency and the video-edit throughput with one memory profile."""
    from core.engines.expression import pipeline
    from core.engines.expression.request import ExpressionRequest
    from core.jobs import run_job
    from tests.samples import portrait_path, talking_clip

    with tempfile.TemporaryDirectory() as tmp:
        common = {"box": BOX, "device": args.device, "dtype": dtype, "checkpoints": args.weights, "memory": memory}
        photo = str(portrait_path())
        first = time.perf_counter()
        run_job("expression", pipeline.preview, ExpressionRequest(image=photo, **common), outputs_root=Path(tmp))
        cold = time.perf_counter() - first
        latencies = []
        for i in range(args.previews):
            req = ExpressionRequest(image=photo, edits={"smile": 0.1 * i, "yaw": 2.0 * i}, **common)
            start = time.perf_counter()
            res = run_job("expression", pipeline.preview, req, outputs_root=Path(tmp))
            latencies.append((time.perf_counter() - start, res.timings.get("render", 0.0)))
        wall = sorted(w for w, _ in latencies)[len(latencies) // 2]
        render = sorted(r for _, r in latencies)[len(latencies) // 2]
        print(f"live preview (512 output from the 256 crop): first {cold:.2f} s (load + crop); then median "
              f"{wall * 1000:.0f} ms per slider release, of which render {render * 1000:.0f} ms")
        clip = talking_clip(Path(tmp) / "clip.mp4", seconds=seconds, size=(512, 512))
        start = time.perf_counter()
        res = run_job("expression", pipeline.run, ExpressionRequest(video=str(clip), edits={"smile": 0.4}, **common),
                      outputs_root=Path(tmp))
        wall = time.perf_counter() - start
        frames = res.extra["frames"]
        stages = " · ".join(f"{k} {v:.2f} s" for k, v in res.timings.items() if k != "total")
        print(f"video edit 512x512, {frames} frames: {frames / wall:.2f} fps end to end ({wall:.1f} s); {stages}")


if __name__ == "__main__":
    main()
