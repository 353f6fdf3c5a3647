"""Memory modes: where the avatar's models live, as placements of the shared model cache (``core.cache``).

* ``full``: every model resident on the device (the reference's ``model_full_load``).
* ``offload``: models wait on the CPU and move to the device while they run, one at a time (the reference's
  ``model_cpu_offload``: text encoder, CLIP, DiT, VAE); the cache's ``"offload"`` placement.
* ``fp8``: ``offload`` with the Linear weights of the DiT blocks and audio adapter stored as float8_e4m3fn and
  upcast per layer (``core.wan.fp8``). Unlike the reference, the umT5 encoder's attention and gate/fc1 weights
  are stored in fp8 too (its ``wo`` stays: transformers casts that layer's input to its weight dtype): in bf16
  it alone needs 11.4 GB and would set this mode's peak.
* ``sequential``: weights stream to the device layer by layer at every forward (the reference's
  ``sequential_cpu_offload``); the cache's ``"sequential"`` placement (accelerate hooks).

The studio-wide memory profiles (``core.request.EngineRequest.memory``) map onto these: ``low`` is ``sequential``,
and ``auto`` picks the first of ``MODES`` whose ``estimate_vram_gb`` fits the free VRAM at job start
(``AvatarRequest.memory_needs``, ``core.prologue``), fp8 included.

On the CPU every mode computes the same thing (moves are no-ops), which is how the modes are tested without a GPU.
"""
from __future__ import annotations

from torch import nn

MODES = ("full", "offload", "fp8", "sequential")
CHOICES = ("auto", *MODES, "low")   # what the request accepts: the modes plus the studio-wide auto and low
LABELS = {"full": "Full (all models on the GPU)", "offload": "Model offload", "fp8": "fp8 weights + offload",
          "sequential": "Sequential offload (slowest)"}

# Parameter counts of the official models (StableAvatar DiT, umT5-XXL encoder, ViT-H/14 visual tower, Wan VAE,
# wav2vec2-base) and the bytes each is stored in: the compute precision, fp32 for the VAE, CLIP and wav2vec.
_PARAMS = {"dit": 1.747e9, "t5": 5.68e9, "clip": 0.632e9, "vae": 0.127e9, "wav2vec": 0.094e9}
_BLOCKS = {"dit": 30}
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
    elif mode in ("sequential", "low"):
        peak = max(weights["dit"] / _BLOCKS["dit"] + dit_work, _T5_EMBEDDING * half_bytes, vae_work)
    else:
        raise ValueError(f"unknown memory mode {mode!r}")
    return round(peak / 2**30, 1)


PLACEMENT = {"full": "resident", "offload": "offload", "fp8": "offload", "sequential": "sequential",
             "low": "sequential"}


def prepare(model: nn.Module, mode: str) -> nn.Module:
    """What a memory mode does to a model before the cache places it: fp8 storage of the DiT's blocks and audio
    adapter, or of umT5's blocks (except ``wo``: transformers casts that layer's input to its weight dtype)."""
    from core.wan.fp8 import to_fp8_storage

    if mode != "fp8":
        return model
    if hasattr(model, "vocal_projector"):
        return to_fp8_storage(model)
    if hasattr(model, "encoder") and hasattr(model.encoder, "block"):
        return to_fp8_storage(model, within=("encoder.block.",), skip=(".wo",))
    return model
