"""Wan2.1 VAE (diffusers ``AutoencoderKLWan``) loaded from ``Wan2.1_VAE.pth``; conditioning encode; streaming decode.

* Latents are normalised outside the VAE with the 16 ``latents_mean``/``latents_std`` constants (the reference
  does it inside; same numbers).
* ``encode_condition`` encodes [reference, zeros...] and takes the posterior mode, as the reference does.
* ``decode_stream`` runs the causal decoder one latent frame at a time through its feature cache (as diffusers'
  ``_decode`` does) but hands every decoded chunk (1 frame, then 4 per latent) to the caller instead of
  concatenating the whole video on the device, so memory does not grow with the video length. Pixels are
  rounded to uint8 (the reference truncates).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from core.weights import load_state_dict

from . import keymaps


@dataclass(frozen=True)
class VAEConfig:
    base_dim: int = 96
    z_dim: int = 16
    num_res_blocks: int = 2

    @classmethod
    def from_official(cls, sd) -> VAEConfig:
        down = {int(k.split(".")[2]) for k in sd if k.startswith("encoder.downsamples.")}
        return cls(base_dim=sd["encoder.conv1.weight"].shape[0], z_dim=sd["conv2.weight"].shape[0],
                   num_res_blocks=(len(down) + 1) // 4 - 1)


WAN_2_1 = VAEConfig()
TINY = VAEConfig(base_dim=4)


def build(config: VAEConfig = WAN_2_1):
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(base_dim=config.base_dim, z_dim=config.z_dim, num_res_blocks=config.num_res_blocks)


def load(path: Path):
    state = load_state_dict(path)
    config = VAEConfig.from_official(state)
    vae = build(config)
    keymaps.load_strict(vae, keymaps.vae_map(config.num_res_blocks), state, path.name)
    return vae.eval()


def _stats(vae, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean, dtype=like.dtype, device=like.device).view(shape)
    std = torch.tensor(vae.config.latents_std, dtype=like.dtype, device=like.device).view(shape)
    return mean, std


@torch.no_grad()
def encode_condition(vae, frame: torch.Tensor, latents: int, device: torch.device) -> torch.Tensor:
    """``frame`` [3, H, W] in [-1, 1] → normalised latents [1, z, latents, H/8, W/8] (fp32, CPU) of the video
    [frame, 0, 0, ...] (4·latents − 3 frames), posterior mode, computed on ``device``."""
    dtype = next(vae.parameters()).dtype
    video = torch.zeros(1, 3, 4 * latents - 3, *frame.shape[1:], device=device, dtype=dtype)
    video[:, :, 0] = frame.to(device, dtype)
    mode = vae.encode(video).latent_dist.mode()
    mean, std = _stats(vae, mode)
    return ((mode - mean) / std).float().cpu()


def _decode_one(vae, latents: torch.Tensor, i: int, device: torch.device) -> torch.Tensor:
    """Latent frame ``i`` through the decoder and its causal feature cache → [n, H, W, 3] uint8 on the CPU."""
    z = latents[:, :, i:i + 1].to(device, next(vae.parameters()).dtype)
    mean, std = _stats(vae, z)
    x = vae.post_quant_conv(z * std + mean)
    vae._conv_idx = [0]
    out = vae.decoder(x, feat_cache=vae._feat_map, feat_idx=vae._conv_idx, first_chunk=i == 0)
    pixels = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels[0].permute(1, 2, 3, 0).cpu()


@torch.no_grad()
def decode_stream(vae, latents: torch.Tensor, device: torch.device) -> Iterator[torch.Tensor]:
    """Normalised latents [1, z, T, h, w] (any device) → chunks [n, H, W, 3] uint8 on the CPU, in order
    (1 frame, then 4 per latent): 4(T − 1) + 1 frames in all, computed on ``device``."""
    vae.clear_cache()
    try:
        for i in range(latents.shape[2]):
            yield _decode_one(vae, latents, i, device)
    finally:
        vae.clear_cache()


@torch.no_grad()
def decode_range(vae, latents: torch.Tensor, start: int, budget_s: float, device: torch.device,
                 cache: list | None) -> tuple[list[torch.Tensor], int, list]:
    """``decode_stream`` resumable across processes: decode from latent ``start`` until ``budget_s`` seconds have
    passed (at least one latent), continuing from ``cache`` (the decoder's causal feature cache as CPU tensors,
    None at the start). Returns the chunks, the next latent and the cache to continue from."""
    import time

    started = time.perf_counter()
    vae.clear_cache()
    if cache is not None:
        vae._feat_map = [c.to(device) if isinstance(c, torch.Tensor) else c for c in cache]
    chunks, i = [], start
    try:
        while i < latents.shape[2]:
            chunks.append(_decode_one(vae, latents, i, device))
            i += 1
            if time.perf_counter() - started >= budget_s:
                break
        return chunks, i, [c.cpu() if isinstance(c, torch.Tensor) else c for c in vae._feat_map]
    finally:
        vae.clear_cache()
