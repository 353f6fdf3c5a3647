"""M: motion extractor, a ConvNeXt-V2 backbone with heads for keypoints, pose bins, t, expression and scale."""
from __future__ import annotations

import torch
from torch import nn

from ..config import MotionConfig
from .blocks import GRN, LayerNorm


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtV2(nn.Module):
    """Backbone + heads; the official checkpoint stores it under the `detector.` prefix."""

    def __init__(self, cfg: MotionConfig):
        super().__init__()
        dims = cfg.dims
        stem = nn.Sequential(nn.Conv2d(cfg.in_chans, dims[0], kernel_size=4, stride=4),
                             LayerNorm(dims[0], eps=1e-6, channels_first=True))
        self.downsample_layers = nn.ModuleList([stem])
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(LayerNorm(dims[i], eps=1e-6, channels_first=True),
                                                        nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2)))
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(dims[i]) for _ in range(cfg.depths[i])])
                                    for i in range(4))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.fc_kp = nn.Linear(dims[-1], 3 * cfg.num_kp)
        self.fc_scale = nn.Linear(dims[-1], 1)
        self.fc_pitch = nn.Linear(dims[-1], cfg.num_bins)
        self.fc_yaw = nn.Linear(dims[-1], cfg.num_bins)
        self.fc_roll = nn.Linear(dims[-1], cfg.num_bins)
        self.fc_t = nn.Linear(dims[-1], 3)
        self.fc_exp = nn.Linear(dims[-1], 3 * cfg.num_kp)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        x = self.norm(x.mean([-2, -1]))
        return {
            "pitch": self.fc_pitch(x), "yaw": self.fc_yaw(x), "roll": self.fc_roll(x),
            "t": self.fc_t(x), "exp": self.fc_exp(x), "scale": self.fc_scale(x), "kp": self.fc_kp(x),
        }


class MotionExtractor(nn.Module):
    def __init__(self, cfg: MotionConfig | None = None):
        super().__init__()
        cfg = cfg or MotionConfig()
        self.cfg = cfg
        self.detector = ConvNeXtV2(cfg)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, 256, 256) in [0, 1] -> raw heads: pitch/yaw/roll (B, 66) logits, t (B, 3), exp (B, 63),
        scale (B, 1), kp (B, 63)."""
        return self.detector(x)
