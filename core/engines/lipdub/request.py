"""The lip-dub request: plain fields only, so it serialises to request.json and YAML presets."""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import BadInputError

VERSIONS = ("v15", "v1")


@dataclass
class LipdubRequest:
    video: str  # video or still image to dub
    audio: str  # prepared driving audio (any format; a video's audio track works too)
    version: str = "v15"  # "v15" (MuseTalk 1.5) or "v1" (1.0: raw parsing mask, no extra margin)
    bbox_shift: int = 0  # px added to the nose anchor: moves the mask's upper edge (+ opens the mouth more)
    extra_margin: int = 10  # v1.5: px added below the chin (0-40)
    parsing_mode: str = "jaw"  # v1.5: "jaw" or "raw" (v1 always uses "raw")
    left_cheek_width: int = 90  # jaw mode: cheek columns protected from the jaw dilation (20-160, 512-px space)
    right_cheek_width: int = 90
    batch_size: int = 16
    device: str = "auto"
    dtype: str = "auto"  # "auto" = fp16 on CUDA, fp32 on CPU; or fp32 / fp16 / bf16
    seed: int = 0  # VAE posterior sampling
    face: int | None = None  # number of the face from the left (0 = leftmost); None = the largest
    face_point: list[float] | None = None  # [x, y] on the first frame: dub the face under this point
    box: str | None = None  # "x1,y1,x2,y2": manual crop box, skips detection
    smooth: bool = True  # smooth crop boxes over time (off for reference-exact runs)
    start: float | None = None  # driving-audio trim range, seconds
    end: float | None = None
    separate_vocals: bool = False  # audio preparation (core.audio): drive with the separated voice
    keep_audio: str = "mix"  # output track: "mix", "vocals" or a path to another file
    normalize: str = "none"  # driving level: "none" | "peak" | "loudness"
    peak_dbfs: float = -1.0  # target of normalize="peak"
    loudness_lufs: float = -20.0  # target of normalize="loudness"
    crf: int = 18
    use_cache: bool = True  # reuse / store the prepared-video cache
    checkpoints: str | None = None

    def validate(self) -> LipdubRequest:
        if self.version not in VERSIONS:
            raise BadInputError(f"unknown version {self.version!r}: use v15 or v1")
        if self.parsing_mode not in ("jaw", "raw", "neck"):
            raise BadInputError(f"unknown parsing mode {self.parsing_mode!r}: use jaw or raw")
        if not 0 <= int(self.extra_margin) <= 40:
            raise BadInputError(f"extra_margin {self.extra_margin} is outside 0..40")
        for name in ("left_cheek_width", "right_cheek_width"):
            if not 20 <= int(getattr(self, name)) <= 160:
                raise BadInputError(f"{name.replace('_', ' ')} {getattr(self, name)} is outside 20..160")
        if int(self.batch_size) < 1:
            raise BadInputError("batch size must be at least 1")
        if not 0 <= int(self.crf) <= 51:
            raise BadInputError(f"crf {self.crf} is outside 0..51")
        return self

    @property
    def needs_audio_preparation(self) -> bool:
        return bool(self.separate_vocals) or self.keep_audio != "mix" or self.normalize != "none"

    @property
    def mode(self) -> str:
        return self.parsing_mode if self.version == "v15" else "raw"

    @property
    def margin(self) -> int:
        return int(self.extra_margin) if self.version == "v15" else 0
