"""Head pose and implicit-keypoint algebra (LivePortrait conventions).

Keypoints are row vectors: x = s * (x_c @ R + exp) + [tx, ty, 0], with R = (Rz(roll) Ry(yaw) Rx(pitch))^T built from
degrees. Everything is batched over the leading dimension.
"""
from __future__ import annotations

import math

import torch


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """(B, 66) pose-bin logits -> (B,) degrees: softmax expectation over bin indices, times 3, minus 97.5."""
    idx = torch.arange(logits.shape[-1], device=logits.device, dtype=torch.float32)
    return (torch.softmax(logits.float(), dim=-1) * idx).sum(-1) * 3 - 97.5


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Degrees, each (B,) or (B, 1) -> (B, 3, 3) = (Rz(roll) @ Ry(yaw) @ Rx(pitch))^T, for row-vector keypoints."""
    x, y, z = (a.reshape(-1).float() * (math.pi / 180) for a in (pitch, yaw, roll))
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.stack([one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], -1).view(-1, 3, 3)
    ry = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], -1).view(-1, 3, 3)
    rz = torch.stack([z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], -1).view(-1, 3, 3)
    return (rz @ ry @ rx).transpose(1, 2)


def transform_keypoints(kp: torch.Tensor, rotation: torch.Tensor, exp: torch.Tensor, scale: torch.Tensor,
                        t: torch.Tensor) -> torch.Tensor:
    """Implicit keypoints x = scale * (kp @ R + exp) + [tx, ty, 0]  (tz is ignored, as in the reference).

    kp, exp: (B, K, 3) or (B, 3K); rotation: (B, 3, 3); scale: (B,) or (B, 1); t: (B, 3). Broadcasts B=1 inputs.
    """
    kp = kp.reshape(kp.shape[0], -1, 3)
    exp = exp.reshape(exp.shape[0], -1, 3)
    x = (kp @ rotation + exp) * scale.reshape(-1, 1, 1)
    shift = torch.zeros_like(t.reshape(-1, 3))
    shift[:, :2] = t.reshape(-1, 3)[:, :2]
    return x + shift[:, None, :]
