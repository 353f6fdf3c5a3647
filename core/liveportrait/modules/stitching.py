"""S / R: the stitching and the lip / eye retargeting MLPs (Linear-ReLU stacks under `mlp`)."""
from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from ..config import MLPConfig


class StitchingRetargetingNetwork(nn.Module):
    def __init__(self, cfg: MLPConfig):
        super().__init__()
        sizes = (cfg.input_size, *cfg.hidden_sizes)
        layers: list[nn.Module] = []
        for a, b in pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        layers.append(nn.Linear(sizes[-1], cfg.output_size))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)
