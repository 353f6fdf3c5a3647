"""The photo-animation request: the shared vocabulary (``core.request.FaceRequest``) plus MoDA's own choices."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import BadInputError
from core.media import probe
from core.request import FaceRequest

from core.moda import motion as M
from core.moda.generator import MotionSettings
from core.moda.timeline import MAX_STRENGTH, Timeline


@dataclass(kw_only=True)
class PortraitRequest(FaceRequest):
    """``box`` here is a face box: the crop is an upright square around it (no detection).

    ``dtype`` fp16/bf16 runs LivePortrait under autocast; the motion DiT stays fp32 (as the reference).
    """

    image: str
    emotion: str = "none"            # none or one of moda.motion.EMOTIONS
    emotion_strength: float = 0.0    # extra emotion guidance on top of the audio guidance (0 = MoDA's own output)
    timeline: list[dict] = field(default_factory=list)  # rows {start, end, emotion, strength}: per-chunk emotion
    crossfade: int = M.OVERLAP       # frames over which an emotion change blends (1..16)
    cfg_scale: float = 1.2           # audio guidance; <= 1 disables CFG
    steps: int = 10                  # rectified-flow Euler steps
    smoothing: int = 3               # pose moving-average window in frames (1 = off, 3 = reference)
    head_motion: float = 1.0         # scales generated head pose/translation deltas around the source pose
    crop_scale: float = 2.3
    pasteback: bool = True           # False returns the 512x512 animated crop
    max_side: int = 2048             # working size: photos with a longer side are downscaled, with a warning (0 = keep)
    render_batch: int = 0            # frames per render pass; 0 = auto (25 on a GPU, as MoDA; 4 on the CPU)

    def check(self) -> None:
        checks = [
            (1 <= self.steps <= 200, f"sampling steps must be 1..200, got {self.steps}"),
            (0 <= self.cfg_scale <= 10, f"CFG scale must be 0..10, got {self.cfg_scale}"),
            (1 <= self.smoothing <= 25, f"smoothing window must be 1..25 frames, got {self.smoothing}"),
            (0 <= self.head_motion <= 3, f"head motion must be 0..3, got {self.head_motion}"),
            (1.5 <= self.crop_scale <= 4, f"crop scale must be 1.5..4, got {self.crop_scale}"),
            (0 <= self.render_batch <= 512, f"render batch must be 0 (auto)..512, got {self.render_batch}"),
            (self.max_side >= 0, f"max photo side must be 0 (keep) or more, got {self.max_side}"),
            (0 <= self.emotion_strength <= MAX_STRENGTH,
             f"emotion strength must be 0..{MAX_STRENGTH:g}, got {self.emotion_strength}"),
            (not (self.timeline and self.emotion != "none"), "give one emotion or a timeline, not both"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInputError(message)
        try:
            M.emotion_id(self.emotion)
        except ValueError as exc:
            raise BadInputError(str(exc)) from exc
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
