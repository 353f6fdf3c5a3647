"""W: warping network. Dense motion from source/driving keypoints warps the feature volume f_s."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DenseMotionConfig, WarpingConfig
from .blocks import Conv3d, Hourglass, SameBlock2d, coordinate_grid, keypoint_gaussians


class DenseMotionNetwork(nn.Module):
    """Predicts a per-voxel blend of K+1 sparse motions (identity + one per keypoint) and an occlusion map."""

    def __init__(self, cfg: DenseMotionConfig, num_kp: int, feature_channel: int, estimate_occlusion_map: bool):
        super().__init__()
        self.num_kp = num_kp
        self.hourglass = Hourglass(cfg.block_expansion, (num_kp + 1) * (cfg.compress + 1), cfg.num_blocks,
                                   cfg.max_features)
        self.mask = Conv3d(self.hourglass.out_filters, num_kp + 1, kernel_size=7, padding=3)
        self.compress = Conv3d(feature_channel, cfg.compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(cfg.compress, affine=True)
        self.occlusion = (nn.Conv2d(self.hourglass.out_filters * cfg.reshape_depth, 1, kernel_size=7, padding=3)
                          if estimate_occlusion_map else None)

    def forward(self, feature: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> dict:
        feature = F.relu(self.norm(self.compress(feature)))
        bs, c, d, h, w = feature.shape
        k = self.num_kp
        identity = coordinate_grid(d, h, w, kp_source).view(1, 1, d, h, w, 3)
        # Sparse motions: for each keypoint, the driving->source translation; plus the identity (background).
        per_kp = identity - kp_driving.view(bs, k, 1, 1, 1, 3) + kp_source.view(bs, k, 1, 1, 1, 3)
        sparse = torch.cat([identity.expand(bs, 1, d, h, w, 3), per_kp], dim=1)  # (bs, k+1, d, h, w, 3)

        repeated = feature.unsqueeze(1).expand(bs, k + 1, c, d, h, w).reshape(bs * (k + 1), c, d, h, w)
        deformed = F.grid_sample(repeated, sparse.reshape(bs * (k + 1), d, h, w, 3), align_corners=False)
        deformed = deformed.view(bs, k + 1, c, d, h, w)

        heat = (keypoint_gaussians(kp_driving, d, h, w) - keypoint_gaussians(kp_source, d, h, w)).to(deformed.dtype)
        heat = torch.cat([heat.new_zeros(bs, 1, d, h, w), heat], dim=1).unsqueeze(2)  # (bs, k+1, 1, d, h, w)

        prediction = self.hourglass(torch.cat([heat, deformed], dim=2).view(bs, -1, d, h, w))
        mask = F.softmax(self.mask(prediction), dim=1)  # (bs, k+1, d, h, w)
        deformation = (sparse * mask.float().unsqueeze(-1)).sum(dim=1)  # (bs, d, h, w, 3), fp32 as the reference
        out = {"mask": mask, "deformation": deformation}
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(prediction.reshape(bs, -1, h, w)))
        return out


class WarpingNetwork(nn.Module):
    def __init__(self, cfg: WarpingConfig | None = None):
        super().__init__()
        cfg = cfg or WarpingConfig()
        self.cfg = cfg
        self.dense_motion_network = DenseMotionNetwork(cfg.dense_motion, cfg.num_kp, cfg.reshape_channel,
                                                       cfg.estimate_occlusion_map)
        width = cfg.block_expansion * 2 ** cfg.num_down_blocks
        self.third = SameBlock2d(cfg.max_features, width, lrelu=True)
        self.fourth = nn.Conv2d(width, width, kernel_size=1)

    def forward(self, feature_3d: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> dict:
        """feature_3d (B, 32, 16, 64, 64), keypoints (B, 21, 3) -> out (B, 256, 64, 64), occlusion_map
        (B, 1, 64, 64), deformation (B, 16, 64, 64, 3)."""
        dense = self.dense_motion_network(feature_3d, kp_driving=kp_driving, kp_source=kp_source)
        deformation = dense["deformation"]
        out = F.grid_sample(feature_3d, deformation.to(feature_3d.dtype), align_corners=False)
        bs, c, d, h, w = out.shape
        out = self.fourth(self.third(out.view(bs, c * d, h, w)))
        occlusion = dense.get("occlusion_map")
        if occlusion is not None:
            out = out * occlusion
        return {"occlusion_map": occlusion, "deformation": deformation, "out": out}
