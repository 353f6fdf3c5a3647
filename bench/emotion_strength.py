"""Emotion-strength curve: mean expression-keypoint distance between "happiness" and "none" motion (same seed,
same audio) as the emotion strength grows.

    python bench/emotion_strength.py [--dit checkpoints/moda/net-200.pth] [--strengths 0 1 2 4 6.8 10]

Without --dit it uses a tiny DiT whose every tensor is random (the reference zero-initialises adaLN, which would
make any freshly built DiT ignore the emotion), so the curve then shows the guidance arithmetic, not MoDA's
trained behaviour; run it on the real net-200.pth to choose default strengths. Audio features are random
(HuBERT-shaped); the distance is the mean over frames and the 21 keypoints of the L2 norm of the denormalised
expression difference (LivePortrait units).

Measured 2026-11-29 (tiny random DiT, cfg 1.2, 80 frames, seed 0): strength 0 -> 0.0067, 0.5 -> 0.0095,
1 -> 0.0124, 2 -> 0.0182, 4 -> 0.0299, 6.8 (the reference's 8 / 1.2) -> 0.0457, 10 -> 0.0637: monotonic, close to
linear. The product's default strength (2, CLI --emotion-strength) awaits a run on the real checkpoint.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.moda import motion as M
from core.moda.dit import DiTConfig, TalkingHeadDiT
from core.moda.generator import MotionGenerator, MotionSettings


def tiny_random_generator(seed: int) -> MotionGenerator:
    g = torch.Generator().manual_seed(seed)
    cfg = DiTConfig(audio_in=12 * 16, hidden=64, heads=4)
    dit = TalkingHeadDiT(cfg)
    state = {k: torch.randn(v.shape, generator=g) * 0.2 for k, v in dit.state_dict().items()}
    dit.load_state_dict(state)
    return MotionGenerator(dit, torch.randn(16, generator=g))


def curve(gen: MotionGenerator, layers: int, dim: int, frames: int, strengths: list[float], seed: int,
          cfg_scale: float) -> list[tuple[float, float]]:
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(frames, layers, dim, generator=g)
    kp = torch.randn(63, generator=g) * 0.05
    prev = torch.zeros(70)  # the dataset-mean face
    ratio = 1.0

    def run(emotion: int, strength: float) -> torch.Tensor:
        settings = MotionSettings(emotion=emotion, cfg_scale=cfg_scale, seed=seed, emotion_scale=strength)
        return M.denormalize(gen.generate(lambda s, e: audio[s:e], frames, kp, prev, settings), ratio)

    base = run(M.NO_EMOTION, 0.0)[:, : M.EXP_DIM].reshape(frames, 21, 3)
    happy = M.EMOTIONS.index("happiness")
    out = []
    for s in strengths:
        exp = run(happy, s)[:, : M.EXP_DIM].reshape(frames, 21, 3)
        out.append((s, float((exp - base).norm(dim=-1).mean())))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dit", help="a real net-200.pth (default: tiny random DiT)")
    ap.add_argument("--strengths", type=float, nargs="+", default=[0, 0.5, 1, 2, 4, 6.8, 10])
    ap.add_argument("--frames", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cfg", type=float, default=1.2)
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.dit:
        gen = MotionGenerator.load(Path(args.dit), torch.device("cpu"))
        layers, dim = 12, 768
    else:
        gen, layers, dim = tiny_random_generator(args.seed), 12, 16
    print(f"{'strength':>8}  {'mean |exp_happy - exp_none|':>28}   ({'real' if args.dit else 'tiny random'} DiT, "
          f"cfg {args.cfg}, {args.frames} frames, seed {args.seed})")
    for s, d in curve(gen, layers, dim, args.frames, args.strengths, args.seed, args.cfg):
        print(f"{s:8.2f}  {d:28.6f}")


if __name__ == "__main__":
    main()
