"""The mouth's rest pose on LivePortrait keypoints, for engines that animate a photo from speech (portrait,
expression photo + audio).

On a frame with rest weight w (``core.audio.rest.rest_weights``: 0 on speech, eased ramps, 1 inside rest runs):

1. the lip keypoint rows (6, 12, 14, 17, 19, 20: MoDA's lip set) of the generated expression move toward the
   source photo's own by w, removing the motion the audio model made there (LivePortrait's "keep the lip silent"
   replaces the lip rows the same way, without weights);
2. LivePortrait's lip retargeting MLP closes the mouth: its offsets for [source lip-open ratio, target 0] (the
   lip-close target of ``flag_normalize_lip``), times w, are added to the driving keypoints before stitching.
   Deviation: LivePortrait normalises only when the source ratio is at least 0.03; here the target is asked for
   on every rest frame (for a closed source mouth the trained MLP's offsets toward 0 are small).

Every other row (eyes, brows, the emotion's cheeks), the head pose and translation continue as generated, and
edits added after (the expression engine's sliders and blinks) stay.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

LIP_KEYPOINTS = [6, 12, 14, 17, 19, 20]
CLOSED = 0.0  # target lip-open ratio on rest


@dataclass
class MouthRest:
    """The rest weights of a clip's frames and the source's lip-open ratio (203-point landmarks)."""

    weights: np.ndarray
    lip_ratio: float

    def _w(self, start: int, count: int, device) -> torch.Tensor:
        w = np.zeros(count, np.float32)
        part = self.weights[start:start + count]
        w[:part.size] = part
        return torch.from_numpy(w).to(device)

    def expression(self, exp: torch.Tensor, source_exp: torch.Tensor, start: int) -> torch.Tensor:
        """exp (B, 21, 3) of frames start.. with the lip rows moved toward ``source_exp`` (1, 21, 3) by w."""
        w = self._w(start, exp.shape[0], exp.device)[:, None, None]
        out = exp.clone()
        src = source_exp.to(exp.device, exp.dtype).expand(exp.shape[0], -1, -1)
        out[:, LIP_KEYPOINTS] = exp[:, LIP_KEYPOINTS] + (src[:, LIP_KEYPOINTS] - exp[:, LIP_KEYPOINTS]) * w
        return out

    def offsets(self, renderer, x_s: torch.Tensor, start: int, count: int) -> torch.Tensor:
        """(count, 21, 3) lip-close offsets: R_lip(x_s, [source ratio, 0]) times w; zeros where w = 0."""
        w = self._w(start, count, x_s.device)
        out = torch.zeros(count, x_s.shape[1], 3, device=x_s.device)
        rows = torch.nonzero(w > 0).flatten()
        if rows.numel():
            ratio = torch.tensor([[float(self.lip_ratio), CLOSED]], device=x_s.device).expand(rows.numel(), 2)
            out[rows] = renderer.retarget_lip(x_s, ratio).float() * w[rows, None, None]
        return out


def mouth_rest(options, speech: np.ndarray, sr: int, frames: int, crop, ctx) -> MouthRest | None:
    """The clip's ``MouthRest`` from the driving audio and the source crop's landmarks; None when rest is off."""
    from core.audio.rest import rest_weights, speech_map_for
    from core.liveportrait.crop.landmarks import lip_close_ratio

    speech_map = speech_map_for(options, speech, sr, ctx, frames=frames)
    if speech_map is None:
        return None
    return MouthRest(rest_weights(speech_map.rest), lip_close_ratio(crop.landmarks_203))
