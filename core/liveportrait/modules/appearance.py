"""F: appearance feature extractor, source image -> 3D feature volume f_s."""
from __future__ import annotations

import torch
from torch import nn

from ..config import AppearanceConfig
from .blocks import DownBlock2d, ResBlock3d, SameBlock2d


class AppearanceFeatureExtractor(nn.Module):
    def __init__(self, cfg: AppearanceConfig | None = None):
        super().__init__()
        cfg = cfg or AppearanceConfig()
        self.cfg = cfg
        self.first = SameBlock2d(cfg.image_channel, cfg.block_expansion)
        blocks, out_features = [], cfg.block_expansion
        for i in range(cfg.num_down_blocks):
            in_features = min(cfg.max_features, cfg.block_expansion * 2 ** i)
            out_features = min(cfg.max_features, cfg.block_expansion * 2 ** (i + 1))
            blocks.append(DownBlock2d(in_features, out_features))
        self.down_blocks = nn.ModuleList(blocks)
        self.second = nn.Conv2d(out_features, cfg.max_features, kernel_size=1)
        self.resblocks_3d = nn.Sequential()
        for i in range(cfg.num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(cfg.reshape_channel))

    def forward(self, source_image: torch.Tensor) -> torch.Tensor:
        """(B, 3, 256, 256) in [0, 1] -> (B, 32, 16, 64, 64) at the official size."""
        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)
        out = self.second(out)
        b, _, h, w = out.shape
        return self.resblocks_3d(out.view(b, self.cfg.reshape_channel, self.cfg.reshape_depth, h, w))
