"""StableAvatar's long-video sampling: overlapping 21-latent windows fused after every flow-matching Euler step.

Contracts (reference: ``wan_inference_long_pipeline.py``; see ../shared/reference/stableavatar.md §1.6-1.9):

* ``latent_frames(V)``: latents for V video frames, ``ceil((V − 1)/4) + 1``; decoding gives ``4(T − 1) + 1 ≥ V``
  frames and the caller keeps the first V (the reference floors, so its video is up to 3 frames short).
* ``plan_windows(T, overlap)``: windows start at 0, stride ``21 − overlap``; a window is full while it ends before
  T, the first one reaching T is the last and ends at T. ``T < 21`` gives one window of T latents (the reference
  runs no window at all and decodes zeros).
* ``overlap_weights(L, scheme)``: the new window's weight on its first L latents: uniform ``j/(L − 1)`` or log
  ``ln(1 + (e − 1)·j/(L − 1))``; for L = 1 both give 0.5 (the reference divides by zero).
* ``sigma_table(steps)``: diffusers ``FlowMatchEulerDiscreteScheduler(shift=5, no dynamic shift)`` sigmas
  (ending with 0); timesteps are ``1000·σ``.
* ``guide(v, s_audio, s_text)``: ``v0 + s_audio·(v1 − v0) + s_text·(v2 − v1)`` for the batch
  [negative text + null audio, negative text + audio, positive text + audio].
* ``denoise``: for every step, every window: one velocity, one Euler step ``x + (σ_next − σ)·v`` in fp32, then
  (from step 1 on, never at step 0, on the stepped latents) the window's first L latents are blended with what the
  previous window wrote there in this step. Latents stay in fp32 on the CPU between windows (the reference keeps
  bf16 on the GPU); only the window being denoised is on the device.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

WINDOW = 21                 # latents per window (81 video frames)
SCHEMES = ("uniform", "log")


def latent_frames(video_frames: int) -> int:
    if video_frames < 1:
        raise ValueError("need at least one video frame")
    return (video_frames - 1 + 3) // 4 + 1


def video_frames(latents: int) -> int:
    return 4 * (latents - 1) + 1


def plan_windows(latents: int, overlap: int, window: int = WINDOW) -> list[tuple[int, int]]:
    """[start, end) latent range of every window."""
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be 0..{window - 1}, got {overlap}")
    windows, start = [], 0
    while True:
        if start + window >= latents:
            windows.append((start, latents))
            return windows
        windows.append((start, start + window))
        start += window - overlap


def overlap_weights(overlap: int, scheme: str = "uniform") -> torch.Tensor:
    """Weights (0..1, float32) of the new window on the ``overlap`` latents it shares with the previous one."""
    if scheme not in SCHEMES:
        raise ValueError(f"overlap scheme must be one of {SCHEMES}, got {scheme!r}")
    if overlap == 1:
        return torch.tensor([0.5])
    ramp = torch.linspace(0, 1, overlap, dtype=torch.float64)
    weights = ramp if scheme == "uniform" else torch.log1p((math.e - 1) * ramp)
    return weights.float()


def make_scheduler():
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=5.0, use_dynamic_shifting=False)


def sigma_table(steps: int) -> torch.Tensor:
    """``steps + 1`` sigmas from 1 down to 0 (float32)."""
    scheduler = make_scheduler()
    scheduler.set_timesteps(steps)
    return scheduler.sigmas.float().cpu()


def guide(v: torch.Tensor, audio_scale: float, text_scale: float) -> torch.Tensor:
    v0, v1, v2 = v.chunk(3)
    return v0 + audio_scale * (v1 - v0) + text_scale * (v2 - v1)


@dataclass(frozen=True)
class Step:
    """Where the denoiser is: passed to the velocity function and the progress callback."""

    step: int
    steps: int
    window: int
    windows: int
    start: int
    end: int
    timestep: float


Velocity = Callable[[torch.Tensor, Step], torch.Tensor]


@dataclass
class DenoiseState:
    """Where a windowed denoising stands, as plain CPU tensors and numbers (picklable): it can be advanced a few
    window-steps at a time, in this process or in another one (a ZeroGPU call), and resumed where it stopped."""

    latents: torch.Tensor          # [1, C, T, h, w] fp32: the result of the last finished step
    stepped: torch.Tensor          # the step under way, written window by window
    steps: int
    overlap: int
    scheme: str
    window: int = WINDOW
    step: int = 0                  # the step under way
    next_window: int = 0           # its next window

    @classmethod
    def start(cls, noise: torch.Tensor, steps: int, overlap: int, scheme: str = "uniform",
              window: int = WINDOW) -> DenoiseState:
        latents = noise.float().clone()
        return cls(latents, torch.empty_like(latents), steps, overlap, scheme, window)

    @property
    def windows(self) -> list[tuple[int, int]]:
        return plan_windows(self.latents.shape[2], self.overlap, self.window)

    @property
    def done(self) -> bool:
        return self.step >= self.steps

    @property
    def finished(self) -> int:
        """Window-steps done so far (of ``steps * len(windows)``)."""
        return self.step * len(self.windows) + self.next_window


def advance(state: DenoiseState, velocity: Velocity, budget_s: float = 0.0,
            on_step: Callable[[Step], None] | None = None) -> DenoiseState:
    """Run window-steps until ``budget_s`` seconds have passed (at least one; 0 = exactly one) or all are done.

    For every step, every window: one velocity, one Euler step ``x + (σ_next − σ)·v`` in fp32, then (from step 1
    on) the window's first ``overlap`` latents are blended with what the previous window wrote there in this step.
    """
    import time

    started = time.perf_counter()
    sigmas = sigma_table(state.steps)
    windows = state.windows
    weights = overlap_weights(state.overlap, state.scheme).view(1, 1, -1, 1, 1) if state.overlap else None
    while not state.done:
        i, k = state.step, state.next_window
        start, end = windows[k]
        where = Step(i, state.steps, k, len(windows), start, end, float(sigmas[i] * 1000))
        x = state.latents[:, :, start:end]
        v = velocity(x, where).float().cpu()
        new = x + (sigmas[i + 1] - sigmas[i]) * v
        if k > 0 and i > 0 and weights is not None:
            previous = state.stepped[:, :, start:start + state.overlap]
            new[:, :, :state.overlap] = new[:, :, :state.overlap] * weights + previous * (1 - weights)
        state.stepped[:, :, start:end] = new
        state.next_window += 1
        if state.next_window == len(windows):
            state.latents, state.stepped = state.stepped, state.latents
            state.step, state.next_window = state.step + 1, 0
        if on_step is not None:
            on_step(where)
        if time.perf_counter() - started >= budget_s:
            break
    return state


def denoise(noise: torch.Tensor, velocity: Velocity, steps: int, overlap: int, scheme: str = "uniform",
            on_step: Callable[[Step], None] | None = None, window: int = WINDOW) -> torch.Tensor:
    """Denoise ``noise`` [1, C, T, h, w] (fp32, CPU) with windows in one go; ``velocity(x_window, step)`` returns
    the guided velocity for the window. ``on_step`` runs after every window's step (progress, cancellation)."""
    state = DenoiseState.start(noise, steps, overlap, scheme, window)
    while not state.done:
        advance(state, velocity, float("inf"), on_step)
    return state.latents
