"""Animate a photo end to end with full-size random weights: time per stage, real-time factor, peak memory per
memory profile.

    flock /tmp/mouthpiece-heavy.lock python bench/portrait.py [--seconds 2 6] [--device cpu|cuda] [--dtype fp16]
        [--memory full offload low]

Writes full-size random checkpoints once (official names and layouts: MoDA DiT 373 M, chinese-hubert-base
95 M, LivePortrait F/M/W/G/S; the ONNX face models are the tiny test ones, unused with a manual face box) to
--weights, then runs each audio length in its own process so peak RSS / GPU memory are per run: flat memory means
the peaks do not grow with the length; on CUDA once per memory profile (peak VRAM), on the CPU once (peak RAM:
profiles change nothing there; ``bench/profiles.py``). Photo: scikit-image's astronaut (512x512), face box given.
Goal on an H100 with fp16: real-time factor <= 0.2 for 30 s.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BOX = [185, 70, 275, 185]
STAGES = ("audio features", "motion", "render", "paste-back", "encode")


def write_full_weights(root: Path) -> None:
    """Random full-size weights in the official layouts (skipped when already there)."""
    import torch
    from transformers import HubertConfig, HubertModel

    from core.moda import weights as PW
    from core.liveportrait.crop.testmodels import write_test_onnx_models
    from core.liveportrait import LivePortraitConfig
    from core.liveportrait import weights as lpw
    from core.moda.audio import legacy_names
    from core.moda.dit import DiTConfig, TalkingHeadDiT

    if (root / "DONE").is_file():
        return
    torch.manual_seed(0)
    dit = TalkingHeadDiT(DiTConfig())
    sd = {f"talking_head_dit.{k}": v for k, v in dit.state_dict().items()}
    sd["scheduler.sigmas"] = torch.arange(1, 1001, dtype=torch.float32) / 1000
    (root / PW.DIT).parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, root / PW.DIT)
    del dit, sd
    hub = root / PW.HUBERT_DIR
    hub.mkdir(parents=True, exist_ok=True)
    config = HubertConfig(architectures=["HubertModel"])  # the base architecture of chinese-hubert-base
    config.to_json_file(str(hub / "config.json"))
    (hub / "preprocessor_config.json").write_text(json.dumps(PW.PREPROCESSOR))
    torch.save(legacy_names(HubertModel(config).state_dict()), hub / "pytorch_model.bin")
    nets = lpw.build_networks(LivePortraitConfig())
    for name, path in (("appearance", lpw.APPEARANCE), ("motion", lpw.MOTION), ("warping", lpw.WARPING),
                       ("spade", lpw.SPADE)):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(nets[name].state_dict(), root / path)
    bundle = {lpw.STITCHING_KEYS[n]: {f"module.{k}": v for k, v in nets[n].state_dict().items()}
              for n in ("stitching", "lip", "eye")}
    (root / lpw.STITCHING).parent.mkdir(parents=True, exist_ok=True)
    torch.save(bundle, root / lpw.STITCHING)
    write_test_onnx_models(root / lpw.DETECTOR, root / lpw.LANDMARK_106, root / lpw.LANDMARK_203, seed=0)
    (root / "DONE").write_text("full-size random weights for bench/portrait.py\n")


def child(args: argparse.Namespace) -> None:
    """One run in this process; prints a JSON line."""
    import soundfile as sf
    import torch

    from bench import profiles
    from core.audio.options import AudioOptions
    from core.engines.portrait import PortraitRequest, run
    from core.jobs import run_job

    skimage_data = Path(__import__("skimage").__file__).parent / "data"
    with tempfile.TemporaryDirectory() as tmp:
        sr, n = 16000, int(args.seconds[0] * 16000)
        t = np.arange(n) / sr
        voice = 0.3 * np.sin(2 * np.pi * 170 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3.5 * t))
        sf.write(Path(tmp) / "speech.wav", voice.astype(np.float32), sr)
        speech = AudioOptions(str(Path(tmp) / "speech.wav"), rest="off")  # a tone, not speech: rest would refuse it
        req = PortraitRequest(image=str(skimage_data / "astronaut.png"), audio=speech, box=BOX, device=args.device,
                              dtype=args.dtype, render_batch=args.batch, checkpoints=str(args.weights),
                              memory=args.memory[0])
        cuda = torch.cuda.is_available() and req.device != "cpu"
        profiles.start(cuda)
        start = time.perf_counter()
        result = run_job("portrait", run, req, outputs_root=Path(tmp))
        wall = time.perf_counter() - start
    print(json.dumps({"seconds": args.seconds[0], "frames": result.extra["frames"], "wall": wall,
                      "timings": result.timings, "peak": profiles.peak(cuda)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, nargs="+", help="audio lengths (default 30 on CUDA, 2 and 6 on CPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default=None, help="fp32 | fp16 | bf16 (default fp16 on CUDA)")
    ap.add_argument("--batch", type=int, default=0, help="render batch (0 = auto: 25 on CUDA, 4 on CPU)")
    ap.add_argument("--weights", default=str(Path(tempfile.gettempdir()) / "mouthpiece-bench-portrait"))
    ap.add_argument("--memory", nargs="+", help="memory profiles (default: full offload low on CUDA, auto on CPU)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    import torch

    from bench import profiles

    cuda = torch.cuda.is_available() and args.device in ("auto", "cuda")
    args.dtype = args.dtype or ("fp16" if cuda else "fp32")
    args.seconds = args.seconds or ([30.0] if cuda else [2.0, 6.0])
    if args.child:
        child(args)
        return
    t = time.perf_counter()
    write_full_weights(Path(args.weights))
    print(f"full-size weights ready in {time.perf_counter() - t:.1f} s: {args.weights}")
    print(f"device {'cuda ' + torch.cuda.get_device_name() if cuda else 'cpu'} ({os.cpu_count()} cores), "
          f"dtype {args.dtype}, photo 512x512, render batch {args.batch}")
    header = f"{'memory':>7} {'audio s':>7} {'frames':>6} " + " ".join(f"{s:>14}" for s in STAGES) + \
        f" {'total s':>8} {'RTF':>6} {'peak MiB':>16}"
    print(header)
    for memory in profiles.profiles(args.memory, cuda):
        for seconds in args.seconds:
            cmd = [sys.executable, __file__, "--child", "--seconds", str(seconds), "--device", args.device,
                   "--dtype", args.dtype, "--batch", str(args.batch), "--weights", args.weights, "--memory", memory]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            total = r["timings"].get("total", r["wall"])
            what, mib = r["peak"]
            print(f"{memory:>7} {seconds:7.1f} {r['frames']:6d} "
                  + " ".join(f"{r['timings'].get(s, 0.0):14.2f}" for s in STAGES)
                  + f" {total:8.2f} {total / seconds:6.2f} {what:>9} {mib:6.0f}")


if __name__ == "__main__":
    main()
