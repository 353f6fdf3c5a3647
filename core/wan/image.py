"""The reference image's CLIP tokens: open-clip ViT-H/14 visual tower, penultimate block, 257 × 1280.

``VisionTower`` keeps the official ``visual.*`` names of ``models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth``
(pre-norm, exact GELU, class token, no bias on the patch convolution; ``post_norm`` and ``head`` are loaded but
unused, as in the reference). ``clip_tokens`` stretches the frame to 224 × 224 with bicubic interpolation (no
crop, unlike ``CLIPImageProcessor``), normalises with CLIP's mean/std and runs all blocks but the last.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from core.weights import load_state_dict

from . import keymaps

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class VisionConfig:
    image_size: int = 224
    patch_size: int = 14
    dim: int = 1280
    heads: int = 16
    layers: int = 32
    mlp_dim: int = 5120  # ViT-H/14's MLP width (4 x 1280); read from the tensors, never from a ratio
    out_dim: int = 1024
    eps: float = 1e-5

    @classmethod
    def from_official(cls, sd) -> VisionConfig:
        """Sizes from the ``visual.*`` tensors; ViT-H's head width is 80."""
        dim, _, patch, _ = sd["visual.patch_embedding.weight"].shape
        grid = round((sd["visual.pos_embedding"].shape[1] - 1) ** 0.5)
        return cls(image_size=grid * patch, patch_size=patch, dim=dim, heads=dim // 80,
                   layers=1 + max(int(k.split(".")[2]) for k in sd if k.startswith("visual.transformer.")),
                   mlp_dim=sd["visual.transformer.0.mlp.0.weight"].shape[0],
                   out_dim=sd["visual.head"].shape[1])


VIT_H_14 = VisionConfig()
TINY = replace(VIT_H_14, image_size=28, dim=160, heads=2, layers=3, mlp_dim=640, out_dim=16)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.to_qkv(x).unflatten(2, (3, self.heads, -1)).unbind(2)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.proj(out.transpose(1, 2).flatten(2))


class _Block(nn.Module):
    def __init__(self, config: VisionConfig):
        super().__init__()
        hidden = config.mlp_dim
        self.norm1 = nn.LayerNorm(config.dim, eps=config.eps)
        self.attn = _Attention(config.dim, config.heads)
        self.norm2 = nn.LayerNorm(config.dim, eps=config.eps)
        self.mlp = nn.Sequential(nn.Linear(config.dim, hidden), nn.GELU(), nn.Linear(hidden, config.dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTower(nn.Module):
    def __init__(self, config: VisionConfig = VIT_H_14):
        super().__init__()
        self.config = config
        patches = (config.image_size // config.patch_size) ** 2
        self.patch_embedding = nn.Conv2d(3, config.dim, config.patch_size, stride=config.patch_size, bias=False)
        self.cls_embedding = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, patches + 1, config.dim))
        self.pre_norm = nn.LayerNorm(config.dim, eps=config.eps)
        self.transformer = nn.Sequential(*(_Block(config) for _ in range(config.layers)))
        self.post_norm = nn.LayerNorm(config.dim, eps=config.eps)
        self.head = nn.Parameter(torch.zeros(config.dim, config.out_dim))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] normalised pixels → the penultimate tokens [B, 1 + patches, dim] (all blocks but the
        last; no post-norm, no head)."""
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_embedding.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
        return self.transformer[:-1](self.pre_norm(x))


def load(path: Path) -> VisionTower:
    state = load_state_dict(path)
    tower = VisionTower(VisionConfig.from_official(state))
    keymaps.load_strict(tower, keymaps.CLIP, state, path.name)
    return tower.eval()


@torch.no_grad()
def clip_tokens(tower: VisionTower, frame: torch.Tensor) -> torch.Tensor:
    """``frame`` [3, H, W] in [-1, 1] → CLIP tokens [1, 257, dim] in the tower's dtype (float32 compute)."""
    size = tower.config.image_size
    x = F.interpolate(frame[None].float(), size=(size, size), mode="bicubic", align_corners=False)
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    x = ((x + 1) / 2 - mean) / std
    dtype = tower.patch_embedding.weight.dtype
    return tower(x.to(dtype))
