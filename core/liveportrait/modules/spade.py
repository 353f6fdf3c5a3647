"""G: SPADE decoder, warped 2D features (B, 256, 64, 64) -> image (B, 3, 512, 512) in [0, 1]."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import SpadeConfig
from .blocks import SPADEResnetBlock


class SPADEDecoder(nn.Module):
    def __init__(self, cfg: SpadeConfig | None = None):
        super().__init__()
        cfg = cfg or SpadeConfig()
        c = min(cfg.max_features, cfg.block_expansion * 2 ** cfg.num_down_blocks)
        h = cfg.spade_hidden
        self.fc = nn.Conv2d(c, 2 * c, 3, padding=1)
        for i in range(6):
            self.add_module(f"G_middle_{i}", SPADEResnetBlock(2 * c, 2 * c, c, h))
        self.up_0 = SPADEResnetBlock(2 * c, c, c, h)
        self.up_1 = SPADEResnetBlock(c, cfg.out_channels, c, h)
        self.up = nn.Upsample(scale_factor=2)
        if cfg.upscale is None or cfg.upscale <= 1:
            self.conv_img = nn.Conv2d(cfg.out_channels, 3, 3, padding=1)
        else:
            self.conv_img = nn.Sequential(nn.Conv2d(cfg.out_channels, 3 * 4, kernel_size=3, padding=1),
                                          nn.PixelShuffle(upscale_factor=2))

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        seg = feature
        x = self.fc(feature)
        for i in range(6):
            x = getattr(self, f"G_middle_{i}")(x, seg)
        x = self.up_0(self.up(x), seg)
        x = self.up_1(self.up(x), seg)
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 2e-1)))
