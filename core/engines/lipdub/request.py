"""The lip-dub request: the shared vocabulary (``core.request.FaceRequest``) plus MuseTalk's own choices."""
from __future__ import annotations

from dataclasses import dataclass

from core.media import probe
from core.request import FaceRequest
from core.spec import param

VERSIONS = ("v15", "v1")


@dataclass(kw_only=True)
class LipdubRequest(FaceRequest):
    """``box`` here is the crop box itself (bbox_shift and extra_margin do not apply to it). The audio's rest may
    also be "source": rest stretches keep the source video's frames (``core.engines.lipdub.rest``)."""

    rest_modes = ("on", "off", "source")

    video: str = param(label="Video or photo to dub", help="the video (or still photo) whose mouth is redone",
                       ui=False)
    version: str = param("v15", "Model", "MuseTalk 1.5 (v15) or 1.0 (v1: raw parsing mask, no extra margin)",
                         choices=VERSIONS, choice_labels=("MuseTalk 1.5", "MuseTalk 1.0"), widget="radio")
    bbox_shift: int = param(0, "bbox_shift", "px added to the nose anchor: + moves the mask's top edge down (the "
                            "mouth opens more)", range=(-100, 100), unit="px", widget="number")
    extra_margin: int = param(10, "Extra margin below the chin (v1.5)", "px added below the chin",
                              range=(0, 40), step=1, unit="px", group="mask")
    parsing_mode: str = param("jaw", "Blend mask (v1.5)", "jaw (the jaw dilated, cheeks protected) or raw (the face "
                              "parser's own mask)", choices=("jaw", "raw"), widget="radio", group="mask",
                              flag="--parsing-mode", aliases=("--parsing",))
    left_cheek_width: int = param(90, "Left cheek width", "jaw mode: cheek columns protected from the jaw dilation "
                                  "(512-px space)", range=(20, 160), step=5, unit="px", group="mask")
    right_cheek_width: int = param(90, "Right cheek width", "jaw mode: as the left one, on the right",
                                   range=(20, 160), step=5, unit="px", group="mask")
    batch_size: int = param(16, "Batch size", "frames per batch through the VAE and UNet", range=(1, 64), step=1,
                            group="advanced", aliases=("--batch",))
    smooth: bool = param(True, "Smooth face boxes over time", "temporal box smoothing (off for reference-exact "
                         "crops)", group="advanced")
    use_cache: bool = param(True, "Reuse the prepared video (cache)", "read and write the prepared-video cache",
                            group="advanced", flag="--cache")
    max_side: int = param(1920, "Max video side", "working size: a video or photo whose longer side exceeds it is "
                          "dubbed downscaled, with a warning (0 = keep the size)", range=(0, None), unit="px",
                          group="advanced", widget="number")

    def check(self) -> None:
        probe(self.video)  # an empty or unreadable file is refused before any job starts

    @property
    def mode(self) -> str:
        return self.parsing_mode if self.version == "v15" else "raw"

    @property
    def margin(self) -> int:
        return int(self.extra_margin) if self.version == "v15" else 0


REQUEST = LipdubRequest
