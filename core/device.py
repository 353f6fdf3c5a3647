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
        raise BadInputError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise BadInputError(f"unknown device {name!r}: use auto, cpu or cuda") from exc


def resolve_dtype(name: str | None, device: torch.device) -> torch.dtype:
    name = (name or "fp32").lower()
    if name not in DTYPES:
        raise BadInputError(f"unknown dtype {name!r}: use one of {', '.join(DTYPES)}")
    if name != "fp32" and device.type != "cuda":
        raise BadInputError(f"{name} needs a CUDA GPU; on {device.type} use fp32")
    if name == "bf16" and not torch.cuda.is_bf16_supported():
        raise BadInputError("this GPU does not support bf16; use fp16")
    return DTYPES[name]


@contextlib.contextmanager
def oom_guard(hint: str = "lower the batch size or use fp16"):
    """Turn CUDA out-of-memory into a one-line BadInputError and free the cached blocks."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        torch.cuda.empty_cache()
        raise BadInputError(f"out of GPU memory: {hint}") from exc
