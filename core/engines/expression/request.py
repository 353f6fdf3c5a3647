"""The expression-control request: the shared face/audio vocabulary plus edits, keyframes, timeline and transfer.

Inputs: `image` (a photo) or `video` (a clip to edit), one of them. With a photo, `audio` makes a talking video
(MoDA motion + emotion timeline + edits); without it the photo itself is edited and a PNG comes back. A video
keeps its own sound. Every field is plain data, so a request is a YAML preset (edits, keyframes and timeline
rows included).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.moda import motion as M
from core.errors import BadInputError
from core.liveportrait import expression as E
from core.request import FaceRequest, check_output

from . import spec
from .edits import EditPlan

IMAGE_SUFFIXES = (".png",)  # a still edit is written as PNG (lossless)


@dataclass(kw_only=True)
class ExpressionRequest(FaceRequest):
    image: str | None = None
    video: str | None = None
    edits: dict[str, float] = field(default_factory=dict)   # constant slider values, e.g. {smile: 0.6, yaw: 10}
    keyframes: list[dict] = field(default_factory=list)     # rows {time, easing?, slider: value...}
    timeline: list[dict] = field(default_factory=list)      # rows {start, end, emotion, strength} (photo + audio)
    crossfade: int = M.OVERLAP          # frames over which an emotion change blends (1..16)
    blink_rate: float = 0.0             # auto blinks per minute (0 = off)
    source_ratio: float = 1.0           # scales the photo's own expression (0 = neutral face), still edit
    eyes_open_ratio: float | None = None  # target eyes-open ratio via the eye retargeting MLP (0..0.8)
    lip_open_ratio: float | None = None   # target lip-open ratio via the lip retargeting MLP (0..0.8)
    transfer_image: str | None = None   # copy expression / pose from this photo
    transfer_parts: str = "expression"  # expression | rotation | mouth | eyes | all
    transfer_ratio: float = 1.0         # AdvancedLivePortrait sample_ratio (-0.2..1.2)
    head_motion: float = 1.0            # scales generated head motion (photo + audio)
    cfg_scale: float = 1.2              # MoDA audio guidance
    steps: int = 10                     # MoDA flow steps
    smoothing: int = 3                  # pose smoothing (photo + audio) / motion smoothing (video), frames
    crop_scale: float = 2.3
    render_batch: int = 0               # frames per render pass; 0 = auto (25 on a GPU, 4 on the CPU)

    needs_audio = False

    @property
    def still(self) -> bool:
        return self.video is None and self.audio is None

    def validate(self):
        """The shared checks, except that a still-photo edit writes a PNG, not a video."""
        output = self.output
        if output and self.still:
            check_output(output, IMAGE_SUFFIXES)
            self.output = None
        try:
            return super().validate()
        finally:
            self.output = output

    def check(self) -> None:
        if (self.image is None) == (self.video is None):
            raise BadInputError("give a photo (--image) or a video (--video), one of them")
        for what, path in (("photo", self.image), ("video", self.video), ("transfer photo", self.transfer_image)):
            if path is not None and not Path(path).is_file():
                raise BadInputError(f"{what} {path} does not exist")
        if self.video is not None and self.audio is not None:
            raise BadInputError("a video edit keeps the video's own sound: drop the audio, or use a photo")
        if self.video is not None and self.timeline:
            raise BadInputError("the emotion timeline drives MoDA motion: it needs a photo and audio, not a video")
        if self.still and self.timeline:
            raise BadInputError("the emotion timeline needs audio: add a driving audio file")
        checks = [
            (0 <= self.source_ratio <= 1, f"source expression ratio must be 0..1, got {self.source_ratio}"),
            (self.transfer_parts in E.TRANSFER_PARTS,
             f"transfer part {self.transfer_parts!r} unknown; choose from {', '.join(E.TRANSFER_PARTS)}"),
            (-0.2 <= self.transfer_ratio <= 1.2, f"transfer ratio must be -0.2..1.2, got {self.transfer_ratio}"),
            (0 <= self.head_motion <= 3, f"head motion must be 0..3, got {self.head_motion}"),
            (0 <= self.cfg_scale <= 10, f"CFG scale must be 0..10, got {self.cfg_scale}"),
            (1 <= self.steps <= 200, f"sampling steps must be 1..200, got {self.steps}"),
            (1 <= self.smoothing <= 25, f"smoothing window must be 1..25 frames, got {self.smoothing}"),
            (1.5 <= self.crop_scale <= 4, f"crop scale must be 1.5..4, got {self.crop_scale}"),
            (0 <= self.render_batch <= 512, f"render batch must be 0 (auto)..512, got {self.render_batch}"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInputError(message)
        self.plan()          # edits, keyframes, blink, retarget targets
        self.emotion_timeline()

    def emotion_timeline(self):
        return spec.timeline_from_rows(self.timeline, self.crossfade)

    def plan(self, transfer_exp=None, transfer_pose=None) -> EditPlan:
        """The edits as an EditPlan (the transfer offsets are computed from the photo by the pipeline)."""
        return EditPlan(constant=tuple(spec.parse_edits(self.edits).items()),
                        keyframes=spec.keyframes_from_rows(self.keyframes), blink_rate=float(self.blink_rate),
                        seed=int(self.seed), source_ratio=float(self.source_ratio),
                        transfer_exp=transfer_exp, transfer_pose=transfer_pose,
                        retarget=E.RetargetTargets(eyes=self.eyes_open_ratio, lips=self.lip_open_ratio))


REQUEST = ExpressionRequest
