"""Memory modes: where the avatar's models live between and during their use.

* ``full``: every model on the device for the whole job (the reference's ``model_full_load``).
* ``offload``: models wait on the CPU and move to the device while they run, one at a time (the reference's
  ``model_cpu_offload``: text encoder, CLIP, DiT, VAE).
* ``fp8``: ``offload`` with the Linear weights of the DiT blocks and audio adapter stored as float8_e4m3fn and
  upcast per layer (``core.wan.fp8``). Unlike the reference, the umT5 encoder's attention and gate/fc1 weights
  are stored in fp8 too (its ``wo`` stays: transformers casts that layer's input to its weight dtype): in bf16
  it alone needs 11.4 GB and would set this mode's peak.
* ``sequential``: the transformer blocks of the DiT and of umT5 move to the device one at a time, for their own
  forward only (the reference's ``sequential_cpu_offload``); the small rest of each model moves while it is used.

On the CPU every mode computes the same thing (moves are no-ops), which is how the modes are tested without a GPU.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

MODES = ("full", "offload", "fp8", "sequential")
LABELS = {"full": "Full (all models on the GPU)", "offload": "Model offload", "fp8": "fp8 weights + offload",
          "sequential": "Sequential offload (slowest)"}

# Parameter counts of the official models (StableAvatar DiT, umT5-XXL encoder, ViT-H/14 visual tower, Wan VAE,
# wav2vec2-base) and the bytes each is stored in: the compute precision, fp32 for the VAE, CLIP and wav2vec.
_PARAMS = {"dit": 1.747e9, "t5": 5.68e9, "clip": 0.632e9, "vae": 0.127e9, "wav2vec": 0.094e9}
_BLOCKS = {"dit": 30, "t5": 24}
_T5_EMBEDDING = 256384 * 4096


def estimate_vram_gb(mode: str, width: int, height: int, half_bytes: int = 2) -> float:
    """Rough peak GPU memory of a job in GiB: resident weights plus the largest working set (a batch-3 DiT
    forward on a 21-latent window, about 40 values per token and channel in flight with a memory-efficient
    attention kernel; the VAE decoding one latent frame). Indicative only; measured peaks are in bench/avatar.py."""
    tokens = 21 * (height // 16) * (width // 16)
    dit_work = 3 * tokens * 1536 * half_bytes * 40
    vae_work = 4 * height * width * 96 * 4 * 6
    weights = {"dit": _PARAMS["dit"] * half_bytes, "t5": _PARAMS["t5"] * half_bytes, "clip": _PARAMS["clip"] * 4,
               "vae": _PARAMS["vae"] * 4, "wav2vec": _PARAMS["wav2vec"] * 4}
    if mode == "fp8":
        weights["dit"] = _PARAMS["dit"] * 1.05
        wo = 24 * 10240 * 4096
        weights["t5"] = (_T5_EMBEDDING + wo) * half_bytes + (_PARAMS["t5"] - _T5_EMBEDDING - wo)
    if mode == "full":
        peak = sum(weights.values()) + max(dit_work, vae_work)
    elif mode in ("offload", "fp8"):
        peak = max(weights["t5"], weights["dit"] + dit_work, weights["vae"] + vae_work, weights["clip"])
    elif mode == "sequential":
        peak = max(weights["dit"] / _BLOCKS["dit"] + dit_work, _T5_EMBEDDING * half_bytes + weights["t5"] / 24,
                   weights["vae"] + vae_work, weights["clip"])
    else:
        raise ValueError(f"unknown memory mode {mode!r}")
    return round(peak / 2**30, 1)


def _block_lists(model: nn.Module) -> list[nn.ModuleList]:
    """The transformer blocks that sequential offload moves one at a time."""
    if hasattr(model, "vocal_projector"):
        return [model.blocks]
    if hasattr(model, "encoder") and hasattr(model.encoder, "block"):
        return [model.encoder.block]
    return []


def _rest(model: nn.Module, blocks: list[nn.ModuleList]) -> Iterator[nn.Module | nn.Parameter]:
    """Everything of ``model`` outside ``blocks``, as modules and direct parameters, without overlaps."""
    skip = {id(b) for b in blocks}

    def walk(module: nn.Module):
        for param in module._parameters.values():
            if param is not None:
                yield param
        for buffer in module._buffers.values():
            if buffer is not None:
                yield buffer
        for child in module.children():
            if id(child) in skip:
                continue
            if any(id(b) in {id(m) for m in child.modules()} for b in blocks):
                yield from walk(child)
            else:
                yield child

    return walk(model)


def _move(items, device: torch.device) -> None:
    for item in items:
        if isinstance(item, nn.Module):
            item.to(device)
        else:
            item.data = item.data.to(device)


class Placement:
    """Applies one memory mode to the models of a job; ``prepare`` once per loaded model, ``use`` around each use."""

    def __init__(self, mode: str, device: torch.device):
        if mode not in MODES:
            raise ValueError(f"unknown memory mode {mode!r}")
        self.mode, self.device = mode, device
        self.offloads = device.type != "cpu" and mode != "full"

    def prepare(self, model: nn.Module, fp8: bool = False) -> nn.Module:
        """Called by the model factory (the cache keeps the result): fp8 storage, hooks, initial device."""
        from core.wan.fp8 import to_fp8_storage

        if self.mode == "fp8" and fp8:
            if hasattr(model, "vocal_projector"):
                to_fp8_storage(model)
            else:
                to_fp8_storage(model, within=("encoder.block.",), skip=(".wo",))  # umT5 casts inputs to wo's dtype
        if not self.offloads:
            return model.to(self.device)
        if self.mode == "sequential":
            for blocks in _block_lists(model):
                for block in blocks:
                    block.register_forward_pre_hook(lambda m, args: m.to(self.device))
                    block.register_forward_hook(lambda m, args, out: m.to("cpu"))
        return model.to("cpu")

    @contextlib.contextmanager
    def use(self, model: nn.Module) -> Iterator[nn.Module]:
        if not self.offloads:
            yield model
            return
        items = list(_rest(model, _block_lists(model))) if self.mode == "sequential" else [model]
        _move(items, self.device)
        try:
            yield model
        finally:
            _move(items, torch.device("cpu"))
            torch.cuda.empty_cache()
