"""Auto blink: natural blinks added to generated motion (MoDA's motion rarely blinks).

Blinks are drawn from a seeded RNG: intervals are 60 / rate seconds times a uniform factor in [0.5, 1.5]
(at least 1 s apart), each blink closes over 3 frames, stays shut for 1 and reopens over 5 (at 25 fps, about
the 100-400 ms of a human blink), with cosine ramps. The result is a per-frame value of the "blink" slider
(negative closes the eyes), added to whatever blink edit is already there.
"""
from __future__ import annotations

import math

import torch

from core.errors import BadInputError

CLOSE_S, SHUT_S, OPEN_S = 0.12, 0.04, 0.2
MIN_GAP_S = 1.0
DEFAULT_DEPTH = -20.0  # the blink slider's closed end


def blink_curve(frames: int, fps: float, rate_per_min: float, seed: int = 0, depth: float = DEFAULT_DEPTH
                ) -> torch.Tensor:
    """(frames,) blink-slider values: 0 with eyes as generated, `depth` at the bottom of each blink."""
    if not 0 <= rate_per_min <= 60:
        raise BadInputError(f"blink rate must be 0..60 per minute, got {rate_per_min}")
    out = torch.zeros(frames)
    if rate_per_min == 0 or frames == 0:
        return out
    rng = torch.Generator().manual_seed(int(seed))
    mean_gap = 60.0 / rate_per_min
    close, shut, reopen = (max(1, round(s * fps)) for s in (CLOSE_S, SHUT_S, OPEN_S))
    shape = torch.cat([
        (1 - torch.cos(math.pi * torch.arange(1, close + 1) / close)) / 2,
        torch.ones(shut),
        (1 + torch.cos(math.pi * torch.arange(1, reopen + 1) / reopen)) / 2,
    ]) * depth
    t = mean_gap * (0.5 + torch.rand((), generator=rng).item())  # first blink
    while (start := round(t * fps)) < frames:
        end = min(frames, start + shape.numel())
        out[start:end] = shape[: end - start]  # blinks never overlap: the gap exceeds a blink's length
        t += max(MIN_GAP_S, mean_gap * (0.5 + torch.rand((), generator=rng).item()))
    return out
