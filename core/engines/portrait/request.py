"""The photo-animation request: the shared vocabulary (``core.request.FaceRequest``) plus MoDA's own choices."""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import BadInputError
from core.media import probe
from core.moda import motion as M
from core.moda.generator import MotionSettings
from core.moda.timeline import MAX_STRENGTH, Timeline
from core.request import FaceRequest
from core.spec import param


@dataclass(kw_only=True)
class PortraitRequest(FaceRequest):
    """``box`` here is a face box: the crop is an upright square around it (no detection).

    ``dtype`` fp16/bf16 runs LivePortrait under autocast; the motion DiT stays fp32 (as the reference).
    """

    image: str = param(label="Photo", help="the portrait photo to animate", ui=False)
    emotion: str = param("none", "Emotion", "one emotion for the whole clip (none = the audio alone), or use a "
                         "timeline", choices=("none", *M.EMOTIONS))
    emotion_strength: float = param(0.0, "Emotion strength", "extra guidance towards the emotion on top of the "
                                    "audio guidance (0 = MoDA's own output; the reference's 8/1.2 is 6.8)",
                                    range=(0, MAX_STRENGTH), step=0.1)
    timeline: list[dict] = param(label="Emotion timeline", help="rows {start, end, emotion, strength}: the emotion "
                                 "per stretch of time (a YAML file on the command line: --timeline FILE.yaml)",
                                 default_factory=list, cli=False, ui=False)
    crossfade: int = param(M.OVERLAP, "Emotion crossfade", "frames over which an emotion change blends",
                           range=(1, 16), step=1, unit="frames", group="advanced", cli=False)
    cfg_scale: float = param(1.2, "Audio guidance (CFG)", "classifier-free guidance on the audio; 1 or less "
                             "disables it", range=(0, 10), step=0.1, flag="--cfg-scale", aliases=("--cfg",))
    steps: int = param(10, "Sampling steps", "rectified-flow Euler steps of the motion DiT", range=(1, 200), step=1)
    smoothing: int = param(3, "Pose smoothing", "moving-average window of the head pose (1 = off, 3 = reference)",
                           range=(1, 25), step=1, unit="frames", group="advanced")
    head_motion: float = param(1.0, "Head motion", "scales the generated head pose and translation around the "
                               "photo's (0 = still)", range=(0, 3), step=0.1)
    crop_scale: float = param(2.3, "Crop scale", "face crop size relative to the face", range=(1.5, 4), step=0.1,
                              group="advanced")
    pasteback: bool = param(True, "Paste back into the photo", "off: the 512x512 animated crop only",
                            group="advanced")
    max_side: int = param(2048, "Max photo side", "working size: a photo whose longer side exceeds it is animated "
                          "downscaled, with a warning (0 = keep the size)", range=(0, None), unit="px",
                          group="advanced", widget="number")
    render_batch: int = param(0, "Render batch", "frames per render pass (0 = auto: 25 on a GPU, as MoDA; 4 on "
                              "the CPU)", range=(0, 512), step=1, group="advanced", aliases=("--batch",))

    def check(self) -> None:
        if self.timeline and self.emotion != "none":
            raise BadInputError("give one emotion or a timeline, not both")
        probe(self.image)  # an empty or unreadable photo is refused before any job starts
        self.emotion_timeline()

    def motion_settings(self) -> MotionSettings:
        return MotionSettings(emotion=M.emotion_id(self.emotion), emotion_scale=float(self.emotion_strength),
                              cfg_scale=self.cfg_scale, steps=self.steps, seed=self.seed,
                              smooth_window=self.smoothing)

    def emotion_timeline(self) -> Timeline | None:
        """The per-chunk emotion timeline, or None when one emotion holds for the whole clip."""
        return Timeline.from_data(self.timeline, self.crossfade) if self.timeline else None


REQUEST = PortraitRequest
