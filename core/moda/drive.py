"""Generated motion -> LivePortrait driving parameters, as MoDA's absolute-motion path does it.

Per frame: the expression starts from the source's and takes the generated values only where MoDA animates
(keypoint rows 1, 2, 6, 11-20 in full; 3 and 4 in y; 5 and 8 in z; 9 in y and z), after the fixed eyeball
offset MoDA applies to every frame; the head pose and translation are the generated ones (tz = 0) and the scale
stays the source's. ``head_motion`` scales the generated pose/translation deltas around the source pose.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core.moda import motion as M

FULL_ROWS = [1, 2, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
PARTIAL = [(3, 1), (4, 1), (5, 2), (8, 2), (9, 1), (9, 2)]  # (keypoint, axis) taken from the generated motion
# update_delta_new_eyeball_direction(0, -5): y of kp 11 and 15 +0.0025, y of kp 13 and 16 +0.00075.
EYEBALL = [(11, 1, 0.0025), (15, 1, 0.0025), (13, 1, 0.00075), (16, 1, 0.00075)]


@dataclass
class DrivingParams:
    exp: torch.Tensor    # (B, 21, 3)
    pitch: torch.Tensor  # (B,) degrees
    yaw: torch.Tensor
    roll: torch.Tensor
    t: torch.Tensor      # (B, 3), tz = 0


def driving_params(raw: torch.Tensor, source_motion: torch.Tensor, head_motion: float = 1.0) -> DrivingParams:
    """raw: (B, 70) denormalised generated motion; source_motion: (70,) the source's raw vector."""
    gen_exp = raw[:, : M.EXP_DIM].reshape(-1, 21, 3).clone()
    for kp, axis, delta in EYEBALL:
        gen_exp[:, kp, axis] += delta
    exp = source_motion[: M.EXP_DIM].reshape(1, 21, 3).repeat(raw.shape[0], 1, 1)
    exp[:, FULL_ROWS] = gen_exp[:, FULL_ROWS]
    for kp, axis in PARTIAL:
        exp[:, kp, axis] = gen_exp[:, kp, axis]
    src_pose, src_t = source_motion[M.POSE], source_motion[M.T_SLICE]
    pose = src_pose + head_motion * (raw[:, M.POSE] - src_pose)
    t = src_t + head_motion * (raw[:, M.T_SLICE] - src_t)
    t[:, 2] = 0.0
    return DrivingParams(exp=exp, pitch=pose[:, 0], yaw=pose[:, 1], roll=pose[:, 2], t=t)
