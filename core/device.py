"""Device and dtype choice per job, with the messages creators need when a choice cannot work."""
from __future__ import annotations

import contextlib

import torch

from core.errors import BadInputError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(name: str | None = "auto") -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BadInputError("no CUDA GPU is available: choose cpu (or auto) as the device")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise BadInputError(f"unknown device {name!r}: use auto, cpu or cuda") from exc


def resolve_dtype(name: str | None, device: torch.device, half: torch.dtype = torch.float16) -> torch.dtype:
    """The one dtype policy: "auto" is ``half`` on CUDA (fp16, or bf16 for an engine whose reference needs it) and
    fp32 on the CPU; an explicit fp32 / fp16 / bf16 is honoured on any device (half precision on the CPU is slow
    but runs, which is how those paths are exercised without a GPU)."""
    name = (name or "auto").lower()
    if name == "auto":
        return half if device.type == "cuda" else torch.float32
    if name not in DTYPES:
        raise BadInputError(f"unknown precision {name!r}: use auto, {', '.join(DTYPES)}")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise BadInputError("this GPU does not support bf16; choose fp16 under Precision")
    return DTYPES[name]


@contextlib.contextmanager
def oom_guard(hint: str = "lower the batch size or use fp16"):
    """Turn CUDA out-of-memory into a one-line BadInputError and free the cached blocks."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        torch.cuda.empty_cache()
        raise BadInputError(f"out of GPU memory: {hint}") from exc


# ------------------------------------------------------------------------------------------------ memory profiles
GIB = 2**30
HEADROOM = 0.9  # a profile fits when its estimated peak is at most this share of the free memory


def choose_memory(free_bytes: int, needs: dict[str, float]) -> tuple[str, str]:
    """The memory profile ``auto`` picks, and why, in one line: the first of ``needs`` (profile -> estimated peak
    bytes, most resident first, e.g. full, offload, low) whose estimate fits ``HEADROOM`` of ``free_bytes``; the
    last one (the least memory) when none fits. A pure function of its figures."""
    usable = free_bytes * HEADROOM
    for name, need in needs.items():
        if need <= usable:
            return name, (f"{name}: needs about {need / GIB:.1f} GiB, {free_bytes / GIB:.1f} GiB free "
                          f"({HEADROOM:.0%} usable)")
    name, need = list(needs.items())[-1]
    return name, (f"{name}: no profile fits {free_bytes / GIB:.1f} GiB free ({HEADROOM:.0%} usable; {name} needs "
                  f"about {need / GIB:.1f} GiB), so the one with the least memory")


def free_memory(device: torch.device) -> int:
    """Free bytes on a CUDA device now (``torch.cuda.mem_get_info``)."""
    return int(torch.cuda.mem_get_info(device)[0])
