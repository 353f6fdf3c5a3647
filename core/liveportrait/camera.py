"""Head pose and implicit-keypoint algebra (LivePortrait conventions).

Keypoints are row vectors: x = s * (x_c @ R + exp) + [tx, ty, 0 or tz], with R = (Rz(roll) Ry(yaw) Rx(pitch))^T built
from
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
                        t: torch.Tensor, translate_z: bool = False) -> torch.Tensor:
    """Implicit keypoints x = scale * (kp @ R + exp) + [tx, ty, 0], or + [tx, ty, tz] with ``translate_z``.

    Which one follows the reference (KwaiVGI/LivePortrait): ``transform_keypoint`` (the source keypoints x_s) and
    the video pipeline (``t_new[..., 2].fill_(0)``) drop tz; the image retargeting of ``gradio_pipeline.py``
    (``x_d_new = scale_new * (x_c_s @ R_d_new + delta_new) + t_new`` with ``t_new = x_s_info['t']``), which the
    still expression edits follow, adds the full t.

    kp, exp: (B, K, 3) or (B, 3K); rotation: (B, 3, 3); scale: (B,) or (B, 1); t: (B, 3). Broadcasts B=1 inputs.
    """
    kp = kp.reshape(kp.shape[0], -1, 3)
    exp = exp.reshape(exp.shape[0], -1, 3)
    x = (kp @ rotation + exp) * scale.reshape(-1, 1, 1)
    shift = t.reshape(-1, 3).clone()
    if not translate_z:
        shift[:, 2] = 0
    return x + shift[:, None, :]
