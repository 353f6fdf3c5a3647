"""The engine prologue, run once per job by the job runner (``core.jobs.run_job`` / ``JobContext.resolve``) instead of
at the top of every pipeline: ``validate()``, the weights check, the device and the dtype (:func:`resolve_request`,
before the job folder exists, so a bad request leaves nothing behind), then the memory profile
(:func:`choose_profile`, holding the GPU lock, so ``auto`` sees the free VRAM the job will really have).

The engine reads the results on its context: ``ctx.root``, ``ctx.device``, ``ctx.dtype``, ``ctx.memory`` (the
profile) and ``ctx.placement`` (the model cache's placement for it). Per-engine differences are declared on the
request class, never coded here:

- ``half_precision = "fp16"``: what dtype ``auto`` means on CUDA ("bf16" for the avatar, as its reference);
- ``weights_needed() -> list[WeightFile] | None``: the part of the manifest this request loads (None = all of it);
- ``memory_placements``: profile -> cache placement (default ``core.cache.PROFILE_PLACEMENTS``);
- ``memory_needs(dtype) -> {profile: bytes}``: estimated peaks, most resident first (default :func:`manifest_needs`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core import weights
from core.device import DTYPES, GIB, choose_memory, free_memory, resolve_device, resolve_dtype
from core.errors import MissingWeightsError

WORKING_SET = GIB  # activations and workspace, added to every manifest estimate


def resolve_request(engine: str, request: Any) -> tuple[Path, torch.device, torch.dtype]:
    """(weights root, device, dtype) for an engine request, after ``validate()``. Raises BadInputError or
    MissingWeightsError (one line each) before any work."""
    request.validate()
    needed = request.weights_needed() if hasattr(request, "weights_needed") else None
    if needed is None:
        root = weights.require(engine, request.checkpoints)
    else:
        wanted = {f.local for f in needed}
        gone = [f.local for f in weights.missing(engine, request.checkpoints) if f.local in wanted]
        if gone:
            raise MissingWeightsError(engine, gone)
        root = weights.root_dir(request.checkpoints)
    device = resolve_device(request.device)
    half = DTYPES[getattr(request, "half_precision", "fp16")]
    return root, device, resolve_dtype(request.dtype, device, half=half)


def manifest_needs(files: list[weights.WeightFile], dtype: torch.dtype, root: Path | None = None) -> dict[str, float]:
    """Rough peak accelerator bytes per profile from a manifest: each file's size (on disk under ``root``, else the
    manifest's), scaled from fp32 (how most official files are stored) to ``dtype``, plus ``WORKING_SET``.
    full = every file at once, offload = the largest one, low = layer by layer (the working set alone)."""
    scale = min(1.0, torch.finfo(dtype).bits / 32)

    def size(f: weights.WeightFile) -> int:
        path = root / f.local if root is not None else None
        return path.stat().st_size if path is not None and path.is_file() else (f.size or 0)

    sizes = [size(f) * scale for f in files] or [0.0]
    return {"full": sum(sizes) + WORKING_SET, "offload": max(sizes) + WORKING_SET, "low": WORKING_SET}


def choose_profile(engine: str, request: Any, device: torch.device, dtype: torch.dtype,
                   root: Path | None = None, here: bool = True) -> tuple[str, str]:
    """(the memory profile a job runs with, why, for the log). ``auto`` on CUDA: the first profile whose estimate
    fits the free VRAM now plus what the model cache already holds there (``core.device.choose_memory``). On the
    CPU a profile changes nothing (the weights are in RAM either way): ``auto`` is ``full`` there, and an explicit
    profile is applied as asked (same results, the placements' bookkeeping only). ``here`` False: the GPU calls run
    in another process (a ZeroGPU worker, where this process may not touch CUDA): ``auto`` is ``full``."""
    from core.cache import default_cache

    asked = getattr(request, "memory", "auto")
    if device.type != "cuda":
        return ("full" if asked == "auto" else asked), "no effect on the CPU (the weights stay in RAM)"
    if asked != "auto":
        return asked, "as asked"
    if not here:
        return "full", "auto chose full: the GPU calls run in a worker process, whose free memory is not known here"
    if hasattr(request, "memory_needs"):
        needs = request.memory_needs(dtype)
    else:
        needed = request.weights_needed() if hasattr(request, "weights_needed") else None
        needs = manifest_needs(weights.files(engine) if needed is None else needed, dtype, root)
    held = default_cache().bytes_on(device)
    profile, why = choose_memory(free_memory(device) + held, needs)
    return profile, f"auto chose {why}" + (f", counting {held / GIB:.1f} GiB of cached models" if held else "")
