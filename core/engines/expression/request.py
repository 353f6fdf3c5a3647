"""The expression-control request: the shared face/audio vocabulary plus edits, keyframes, timeline and transfer.

Inputs: `image` (a photo) or `video` (a clip to edit), one of them. With a photo, `audio` makes a talking video
(MoDA motion + emotion timeline + edits); without it the photo itself is edited and a PNG comes back. A video
keeps its own sound. Every field is plain data, so a request is a YAML preset (edits, keyframes and timeline
rows included).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInputError
from core.liveportrait import expression as E
from core.moda import motion as M
from core.request import FaceRequest, check_output
from core.spec import param

from . import spec
from .edits import EditPlan
from .weights import EDIT_FILES

IMAGE_SUFFIXES = (".png",)  # a still edit is written as PNG (lossless)


@dataclass(kw_only=True)
class ExpressionRequest(FaceRequest):
    image: str | None = param(None, "Photo", "photo to edit (with audio: to animate); or a video", ui=False)
    video: str | None = param(None, "Video", "video whose expressions to edit (its sound is kept); or a photo",
                              ui=False)
    edits: dict[str, float] = param(label="Face edits", help="constant slider values, e.g. {smile: 0.6, yaw: 10} "
                                    "(--edit smile=0.6,yaw=10 on the command line)", default_factory=dict,
                                    cli=False, ui=False)
    keyframes: list[dict] = param(label="Keyframes", help="rows {time, easing?, slider: value...} (a YAML file on the "
                                  "command line)", default_factory=list, cli=False, ui=False)
    timeline: list[dict] = param(label="Emotion timeline", help="rows {start, end, emotion, strength} (photo + "
                                 "audio; a YAML file on the command line)", default_factory=list, cli=False, ui=False)
    crossfade: int = param(M.OVERLAP, "Emotion crossfade", "frames over which an emotion change blends",
                           range=(1, 16), step=1, unit="frames", group="advanced", cli=False)
    blink_rate: float = param(0.0, "Auto blinks per minute", "0 = off", range=(0, 60), step=1)
    source_ratio: float = param(1.0, "Keep the photo's expression", "scales the photo's own expression (0 = a "
                                "neutral face), still edit", range=(0, 1), step=0.05)
    eyes_open_ratio: float | None = param(None, "Eyes-open target", "target eyes-open ratio through the eye "
                                          "retargeting MLP (none = off)", range=(0, 0.8), step=0.01)
    lip_open_ratio: float | None = param(None, "Lip-open target", "target lip-open ratio through the lip "
                                         "retargeting MLP (none = off)", range=(0, 0.8), step=0.01)
    transfer_image: str | None = param(None, "Transfer from photo", "copy expression / pose from this photo",
                                       flag="--transfer-image", aliases=("--transfer",), ui=False)
    transfer_parts: str = param("expression", "Transfer parts", "what to copy from the transfer photo",
                                choices=E.TRANSFER_PARTS)
    transfer_ratio: float = param(1.0, "Transfer ratio", "how much of it (AdvancedLivePortrait's sample_ratio)",
                                  range=(-0.2, 1.2), step=0.05)
    head_motion: float = param(1.0, "Head motion", "scales the generated head motion (photo + audio)",
                               range=(0, 3), step=0.1)
    cfg_scale: float = param(1.2, "Audio guidance (CFG)", "MoDA audio guidance (photo + audio)", range=(0, 10),
                             step=0.1, group="advanced", flag="--cfg-scale", aliases=("--cfg",))
    steps: int = param(10, "Sampling steps", "MoDA flow steps (photo + audio)", range=(1, 200), step=1,
                       group="advanced")
    smoothing: int = param(3, "Motion smoothing", "pose smoothing (photo + audio) / motion smoothing (video)",
                           range=(1, 25), step=1, unit="frames", group="advanced")
    crop_scale: float = param(2.3, "Crop scale", "face crop size relative to the face", range=(1.5, 4), step=0.1,
                              group="advanced")
    render_batch: int = param(0, "Render batch", "frames per render pass (0 = auto: 25 on a GPU, 4 on the CPU)",
                              range=(0, 512), step=1, group="advanced", aliases=("--batch",))

    needs_audio = False

    def weights_needed(self):
        """What the job loads (checked by the job runner): every file for photo + audio, only KwaiVGI's
        LivePortrait set (``EDIT_FILES``) for still-photo and video edits."""
        return None if self.audio is not None else EDIT_FILES

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
