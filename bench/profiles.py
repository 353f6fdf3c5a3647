"""Peak memory per memory profile (``--memory``), shared by the engine benches (avatar, lipdub, portrait, expression).

On CUDA every profile is measured (full, offload, low; the avatar adds fp8 and sequential) and the peak is the GPU's
``torch.cuda.max_memory_allocated`` since the profile's run began. On the CPU a profile changes nothing (the weights
are in RAM either way), so one run (``auto``) is measured and the peak is the process's max RSS.
"""
from __future__ import annotations

import resource

import torch

PROFILES = ("full", "offload", "low")


def profiles(asked: list[str] | None, cuda: bool, every: tuple[str, ...] = PROFILES) -> list[str]:
    """The profiles to measure: those asked for, else ``every`` one on CUDA, else ``auto`` alone."""
    return list(asked) if asked else (list(every) if cuda else ["auto"])


def start(cuda: bool) -> None:
    """Begin one profile's measurement: the GPU's peak counter restarts (RSS peaks cannot be reset)."""
    if cuda:
        torch.cuda.reset_peak_memory_stats()


def peak(cuda: bool) -> tuple[str, float]:
    """("peak VRAM", MiB since ``start``) on CUDA, else ("peak RAM", this process's max RSS in MiB)."""
    if cuda:
        return "peak VRAM", torch.cuda.max_memory_allocated() / 2**20
    return "peak RAM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
