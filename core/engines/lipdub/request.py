"""The lip-dub request: the shared vocabulary (``core.request.FaceRequest``) plus MuseTalk's own choices."""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import BadInputError
from core.media import probe
from core.request import FaceRequest

VERSIONS = ("v15", "v1")


@dataclass(kw_only=True)
class LipdubRequest(FaceRequest):
    """``box`` here is the crop box itself (bbox_shift and extra_margin do not apply to it). The audio's rest may
    also be "source": rest stretches keep the source video's frames (``core.engines.lipdub.rest``)."""

    rest_modes = ("on", "off", "source")

    video: str  # video or still image to dub
    version: str = "v15"  # "v15" (MuseTalk 1.5) or "v1" (1.0: raw parsing mask, no extra margin)
    bbox_shift: int = 0  # px added to the nose anchor: moves the mask's upper edge (+ opens the mouth more)
    extra_margin: int = 10  # v1.5: px added below the chin (0-40)
    parsing_mode: str = "jaw"  # v1.5: "jaw" or "raw" (v1 always uses "raw")
    left_cheek_width: int = 90  # jaw mode: cheek columns protected from the jaw dilation (20-160, 512-px space)
    right_cheek_width: int = 90
    batch_size: int = 16
    smooth: bool = True  # smooth crop boxes over time (off for reference-exact runs)
    use_cache: bool = True  # reuse / store the prepared-video cache
    max_side: int = 1920  # working size: a longer video/photo side is downscaled for dubbing, with a warning (0 = keep)

    def check(self) -> None:
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
        if int(self.max_side) < 0:
            raise BadInputError(f"max video side must be 0 (keep) or more, got {self.max_side}")
        probe(self.video)  # an empty or unreadable file is refused before any job starts

    @property
    def mode(self) -> str:
        return self.parsing_mode if self.version == "v15" else "raw"

    @property
    def margin(self) -> int:
        return int(self.extra_margin) if self.version == "v15" else 0


REQUEST = LipdubRequest
