"""Everything a job adds on top of the driving motion, per frame: constant slider values, keyframed ones, auto
blink, a transfer from a reference photo, a source-expression ratio and the retargeting targets.

`EditPlan.deltas(frames, fps)` gives (exp_delta (T, 21, 3), pose_delta (T, 3) degrees): constant and keyframed
values of the same slider add up (keyframes animate around the constant), the auto-blink curve is added to the
"blink" slider, and the slider values are mapped through `core.liveportrait.expression.edit_deltas`.
The pipeline adds them to the driving parameters, always by addition: audio-driven or video-extracted mouth
motion is never replaced, only offset.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from core.errors import BadInputError
from core.liveportrait import expression as E

from .blink import blink_curve
from .keyframes import Keyframe, interpolate


@dataclass(frozen=True)
class EditPlan:
    constant: tuple[tuple[str, float], ...] = ()
    keyframes: tuple[Keyframe, ...] = ()
    blink_rate: float = 0.0            # auto blinks per minute (0 = off)
    seed: int = 0                      # auto-blink timing
    source_ratio: float = 1.0          # AdvancedLivePortrait src_ratio: 0 neutralises the source expression
    transfer_exp: torch.Tensor | None = field(default=None, compare=False)   # (1, 21, 3) from a reference photo
    transfer_pose: torch.Tensor | None = field(default=None, compare=False)  # (1, 3) degrees
    retarget: E.RetargetTargets = field(default_factory=E.RetargetTargets)

    def __post_init__(self):
        E.check_values(dict(self.constant))
        if not 0 <= self.blink_rate <= 60:
            raise BadInputError(f"blink rate must be 0..60 per minute, got {self.blink_rate}")
        if not 0 <= self.source_ratio <= 1:
            raise BadInputError(f"source expression ratio must be 0..1, got {self.source_ratio}")

    def slider_values(self, frames: int, fps: float) -> dict[str, torch.Tensor]:
        """Per-frame value (T,) of every slider the plan uses."""
        times = torch.arange(frames, dtype=torch.float64) / fps
        values = {k: torch.full((frames,), float(v)) for k, v in self.constant}
        for name, track in interpolate(self.keyframes, times).items() if self.keyframes else ():
            values[name] = values.get(name, torch.zeros(frames)) + track
        if self.blink_rate:
            values["blink"] = values.get("blink", torch.zeros(frames)) + blink_curve(frames, fps, self.blink_rate,
                                                                                     self.seed)
        return values

    def deltas(self, frames: int, fps: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(exp_delta (T, 21, 3), pose_delta (T, 3)) for `frames` frames at `fps`, transfer included."""
        exp, pose = E.edit_deltas(self.slider_values(frames, fps), batch=frames)
        if self.transfer_exp is not None:
            exp = exp + self.transfer_exp.reshape(1, E.NUM_KP, 3)
        if self.transfer_pose is not None:
            pose = pose + self.transfer_pose.reshape(1, 3)
        return exp, pose
