"""How long an avatar job takes on a CPU, said before it starts.

The denoiser is nearly all of the work: every step runs every window through the DiT three times (audio and text
guidance, batch 3), each on 21·(h/16)·(w/16) tokens. One forward costs ``2·P`` FLOPs per token for the weights
(``P`` the DiT's parameter count) plus ``4·L·N·D`` per token for self-attention (``N`` tokens, ``D`` the width,
``L`` the blocks): the reference's own cost model (``/work/shared/reference/stableavatar.md``, "Cost model").
``P``, ``D`` and ``L`` are read from the DiT file in use (memory-mapped: no weights are read), so the figure holds
for the official 1.3B model and for the tiny test weights alike; the rate is this CPU's measured fp32 matrix-multiply
speed (a fraction of a second, once per process). Loading, conditioning and decoding are not counted: the note says
so. Indicative only (within about 2x); ``bench/avatar.py`` measures the real time per step and window.
"""
from __future__ import annotations

import functools
import math
import time
from pathlib import Path

from core.jobs import format_seconds
from core.media import frames_needed
from core.wan import sampling
from core.wan.audio import FPS

from . import weights as AW
from .pipeline import PREVIEW_STEPS

OFFICIAL = (1_747_426_112, 1536, 30)  # parameters, width, blocks of StableAvatar-1.3B (when the file is absent)


@functools.lru_cache(maxsize=4)
def _dit_shape(path: str, mtime: float) -> tuple[int, int, int]:
    import torch

    try:
        sd = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception:  # noqa: BLE001 - an unreadable file is the loader's to report; the estimate falls back
        return OFFICIAL
    sd = sd.get("state_dict", sd) if isinstance(sd, dict) else sd
    width = sd["patch_embedding.weight"].shape[0]
    blocks = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    return sum(t.numel() for t in sd.values() if hasattr(t, "numel")), width, blocks


def dit_shape(root: str | Path | None) -> tuple[int, int, int]:
    """(parameters, width, blocks) of the DiT file under the checkpoints folder ``root``."""
    from core import weights

    path = weights.root_dir(root) / AW.DIT
    if not path.is_file():
        return OFFICIAL
    return _dit_shape(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=1)
def cpu_flops() -> float:
    """This CPU's fp32 matrix-multiply rate in FLOP/s (the best of a few 768x768 products)."""
    import torch

    a, b = torch.randn(768, 768), torch.randn(768, 768)
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 768 ** 3 / max(best, 1e-9)


def denoise_flops(shape: tuple[int, int, int], width: int, height: int, seconds: float, steps: int,
                  overlap: int, preview: bool = False) -> float:
    """FLOPs of the denoising loop for ``seconds`` of audio (the first window at draft steps for a preview)."""
    params, dim, blocks = shape
    latents = sampling.latent_frames(max(frames_needed(seconds, FPS), 1))
    if preview:
        latents, steps = min(latents, sampling.WINDOW), min(steps, PREVIEW_STEPS)
    total = 0.0
    for start, end in sampling.plan_windows(latents, min(overlap, sampling.WINDOW - 1)):
        tokens = (end - start) * (height // 16) * (width // 16)
        total += 3 * tokens * (2 * params + 4 * blocks * tokens * dim)
    return steps * total


def cpu_note(device: str, size: tuple[int, int], steps, overlap, audio: str | None, start, end,
             root: str | Path | None = None) -> str:
    """What the tab says before a CPU job: the preview's and the whole clip's rough denoising time at the chosen size
    and steps ("" on a GPU); loading and decoding come on top."""
    from core.audio.decode import duration_of
    from core.device import resolve_device

    try:
        if resolve_device(device).type != "cpu":
            return ""
    except Exception:  # noqa: BLE001 - a bad device is refused, in one line, when the job starts
        return ""
    width, height = size
    steps, overlap = int(steps or 1), int(overlap or 0)
    shape, rate = dit_shape(root), cpu_flops()
    preview = denoise_flops(shape, width, height, sampling.video_frames(sampling.WINDOW) / FPS, steps, overlap,
                            preview=True) / rate
    text = f"On this CPU, denoising only: Preview ≈ {_about(preview)}"
    length = (duration_of(audio) if audio else 0.0) or 0.0
    if length:
        length = max(min(float(end or length), length) - float(start or 0), 1 / FPS)
        whole = denoise_flops(shape, width, height, length, steps, overlap) / rate
        text += f" · Generate ≈ {_about(whole)} ({length:.1f} s, {steps} steps)"
    return text


def _about(seconds: float) -> str:
    return "under 1 s" if seconds < 0.5 else format_seconds(seconds)
