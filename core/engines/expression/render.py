"""Edited LivePortrait rendering shared by the still-photo edit, the live preview, photo + audio and video edit.

A face is prepared once (crop, source state, the source's eye/lip openness for the retargeting MLPs). Driving
keypoints are always composed the same way: x_d = s_src * (x_c @ R(pose + pose edits) + exp + exp edits) + t
(the full t with tz for still edits, as the reference's image retargeting; tz dropped for video and audio), then
the retargeting offsets (LivePortrait's retargeting tab), then stitching, then warp + decode and paste-back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.liveportrait import expression as E

from .edits import EditPlan


@dataclass
class PreparedFace:
    image: np.ndarray        # the full-resolution photo or frame, RGB uint8
    crop: object             # core.liveportrait.crop.CropInfo
    source: object           # core.liveportrait.SourceState
    eye_ratios: np.ndarray   # (left, right) eyes-open ratios of the source (203-point landmarks)
    lip_ratio: float         # lip-open ratio of the source

    @property
    def pose(self) -> torch.Tensor:
        """(1, 3) source pitch, yaw, roll in degrees."""
        return torch.stack([self.source.pitch, self.source.yaw, self.source.roll], dim=-1).reshape(1, 3)


def prepare_face(renderer, cropper, image: np.ndarray, *, face=None, box=None, point=None,
                 crop_scale: float = 2.3) -> PreparedFace:
    """Crop one face of `image` and extract its LivePortrait source state and openness ratios."""
    from core.liveportrait import image_to_tensor
    from core.liveportrait.crop.landmarks import eye_close_ratios, lip_close_ratio

    crop = cropper.crop_source(image, face=face, box=box, point=point, scale=crop_scale)
    source = renderer.extract_source(image_to_tensor(crop.img_crop_256, renderer.device))
    return PreparedFace(image, crop, source, eye_close_ratios(crop.landmarks_203),
                        lip_close_ratio(crop.landmarks_203))


def driving_keypoints(renderer, face: PreparedFace, exp: torch.Tensor, pose: torch.Tensor, t: torch.Tensor,
                      retarget: E.RetargetTargets, offsets: torch.Tensor | None = None,
                      translate_z: bool = False) -> torch.Tensor:
    """Stitched driving keypoints (B, 21, 3) from exp (B, 21, 3), pose (B, 3) degrees and t (B, 3); ``offsets``
    (B, 21, 3), e.g. the mouth's rest (``core.liveportrait.rest``), join the retargeting offsets before stitching.
    tz is added only with ``translate_z`` (still edits, as the reference's image retargeting; video and audio drop
    it, as the reference's video pipeline)."""
    dev = renderer.device
    exp, pose, t = exp.to(dev), pose.to(dev), t.to(dev)
    src = face.source
    x_d = renderer.compose_keypoints(src, exp, pose[:, 0], pose[:, 1], pose[:, 2], t, translate_z=translate_z)
    x_d = x_d + E.retarget_offsets(renderer, src.x_s, face.eye_ratios, face.lip_ratio, retarget, x_d.shape[0])
    if offsets is not None:
        x_d = x_d + offsets.to(dev)
    return renderer.stitch(src.x_s, x_d)


def still_keypoints(renderer, face: PreparedFace, plan: EditPlan, time: float = 0.0, fps: float = 25.0
                    ) -> torch.Tensor:
    """The source's own motion with the plan's edits at `time` (AdvancedLivePortrait's ExpressionEditor):
    the source expression scaled by `source_ratio` (keypoint 5 kept), plus edits; pose plus pose edits."""
    frame = round(time * fps)
    exp_d, pose_d = plan.deltas(frame + 1, fps)
    src = face.source
    exp = E.neutralize(src.exp.cpu(), plan.source_ratio) + exp_d[frame:frame + 1]
    pose = face.pose.cpu() + pose_d[frame:frame + 1]
    return driving_keypoints(renderer, face, exp, pose, src.t.cpu(), plan.retarget, translate_z=True)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] -> (B, H, W, 3) uint8."""
    return (frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
