"""Infinite avatar end to end: time per denoising step per window, real-time factor, peak VRAM per memory mode (on
CUDA: every mode by default) or peak RAM (on the CPU, where the modes change nothing: auto alone by default).

    flock /tmp/mouthpiece-heavy.lock python bench/avatar.py [--seconds 10 60] [--modes full offload]
        [--size 64x64] [--steps 2] [--weights DIR] [--device cpu|cuda] [--dtype bf16]

Without --weights it writes the tiny random test checkpoints (official layouts, narrow widths) to a temporary
folder; point --weights at a real or full-size checkpoints folder where memory allows. Each (mode, length) runs in
its own process, so peak RSS and peak GPU memory are per run: flat memory means the peaks do not grow with the
audio length. Audio: amplitude-modulated noise (speech-like envelope), photo: scikit-image's astronaut.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_inputs(folder: Path, seconds: float) -> tuple[Path, Path]:
    import soundfile as sf
    from PIL import Image
    from skimage import data

    image = folder / "astronaut.png"
    if not image.exists():
        Image.fromarray(data.astronaut()).save(image)
    audio = folder / f"speech_{seconds:g}s.wav"
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    sf.write(audio, (0.2 * envelope * rng.standard_normal(t.size)).astype(np.float32), 16000)
    return image, audio


def one_run(args: argparse.Namespace) -> dict:
    """Runs in a child process: one job, its timings and peaks."""
    import torch

    from bench import profiles
    from core import jobs
    from core.audio.options import AudioOptions
    from core.engines.avatar import pipeline
    from core.engines.avatar.request import AvatarRequest

    image, audio = write_inputs(Path(args.work), args.one)
    speech = AudioOptions(audio=str(audio), rest="off")  # noise, not speech: rest on silence would refuse it
    request = AvatarRequest(image=str(image), audio=speech, size=args.size, steps=args.steps, memory=args.mode,
                            device=args.device, dtype=args.dtype, checkpoints=args.weights)
    cuda = torch.cuda.is_available() and request.device != "cpu"
    profiles.start(cuda)
    started = time.perf_counter()
    result = jobs.run_job("avatar", pipeline.run, request)
    total = time.perf_counter() - started
    window_steps = result.extra["windows"] * result.extra["steps"]
    return {
        "mode": args.mode, "seconds": result.extra["seconds"], "frames": result.extra["frames"],
        "windows": result.extra["windows"], "steps": result.extra["steps"], "total_s": round(total, 2),
        "per_window_step_s": round(result.timings.get("denoise", 0.0) / window_steps, 4),
        "rtf": round(total / result.extra["seconds"], 3),
        "peak": profiles.peak(cuda),
        "timings": {k: round(v, 2) for k, v in result.timings.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--modes", nargs="+", help="memory modes (default: every mode on CUDA, auto on the CPU)")
    parser.add_argument("--size", default="64x64")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--weights", help="checkpoints folder (default: tiny test weights in a temporary folder)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_run(args)))
        return 0
    import torch

    from bench import profiles
    from core.engines.avatar.memory import MODES

    modes = profiles.profiles(args.modes, torch.cuda.is_available() and args.device != "cpu", MODES)
    work = Path(tempfile.mkdtemp(prefix="avatar-bench-"))
    if not args.weights:
        from core import weights

        args.weights = str(weights.make_test_checkpoints(work / "checkpoints", only=["avatar"]))
    for mode in modes:
        for seconds in args.seconds:
            cmd = [sys.executable, __file__, "--one", str(seconds), "--mode", mode, "--work", str(work),
                   "--weights", args.weights, "--size", args.size, "--steps", str(args.steps),
                   "--device", args.device, "--dtype", args.dtype]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode:
                print(out.stderr[-2000:], file=sys.stderr)
                return out.returncode
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{mode:>10} {row['seconds']:6.1f} s audio: {row['windows']} windows x {row['steps']} steps, "
                  f"{row['per_window_step_s']:.3f} s per window-step, RTF {row['rtf']:.2f}, "
                  f"{row['peak'][0]} {row['peak'][1]:.0f} MiB")
            print("           " + json.dumps(row["timings"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
