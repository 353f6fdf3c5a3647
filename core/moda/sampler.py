"""Rectified-flow sampling as in MoDA (shift 1): sigma = t / 1000, Euler steps on the predicted velocity.

The model predicts v = noise - x0 (x_sigma = sigma * noise + (1 - sigma) * x0), so x moves by v * (sigma_next - sigma).
Timesteps are linspace(1000, 1, steps); each step lowers sigma by (1 - 0.001) / (steps - 1), clamped at 0.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

NUM_TRAIN_TIMESTEPS = 1000
SIGMA_MIN, SIGMA_MAX = 1 / NUM_TRAIN_TIMESTEPS, 1.0


def timesteps(steps: int) -> torch.Tensor:
    """The raw timesteps fed to the DiT: 1000, 889, ..., 112, 1 for 10 steps."""
    if steps < 1:
        raise ValueError("sampling steps must be >= 1")
    return torch.linspace(SIGMA_MAX * NUM_TRAIN_TIMESTEPS, SIGMA_MIN * NUM_TRAIN_TIMESTEPS, steps)


def sigma_next(t: float, steps: int) -> float:
    sigma = t / NUM_TRAIN_TIMESTEPS
    if steps == 1:
        return 0.0
    return max(sigma - (SIGMA_MAX - SIGMA_MIN) / (steps - 1), 0.0)


Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t_batch) -> v


def sample(velocity: Velocity, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """Integrate from pure noise (sigma 1) to sigma 0 with Euler steps."""
    x = noise
    for t in timesteps(steps).tolist():
        v = velocity(x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device))
        x = x + v * (sigma_next(t, steps) - t / NUM_TRAIN_TIMESTEPS)
    return x


def guided(cond_uncond: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], scale: float) -> Velocity:
    """Classifier-free guidance: the callable returns the [uncond; cond] batch; pred = u + s * (c - u)."""
    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        uncond, cond = cond_uncond(torch.cat([x, x]), torch.cat([t, t])).chunk(2)
        return uncond + scale * (cond - uncond)
    return velocity
