"""The infinite-avatar request: the shared vocabulary (``core.request.EngineRequest``) plus StableAvatar's choices.

Defaults follow the reference's ``inference.sh`` (text guidance 3, audio guidance 5, overlap 5, uniform overlap
weights, Wan's standard negative prompt) except the step count: 25 ("balanced"; the script uses 50, the app 10).
``dtype`` "auto" is bf16 on CUDA (the reference's precision) and fp32 on the CPU.
Rest on silence (default ``rest="on"``, a deviation: the reference feeds wav2vec every sound): rest stretches of
the driving audio are digital silence, with 80 ms fades, before wav2vec (``rest.py``); ``--rest off`` is the reference.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInputError
from core.request import EngineRequest
from core.wan.sampling import SCHEMES, WINDOW

from .memory import MODES

RESOLUTIONS = ("512x512", "480x832", "832x480")       # width x height; the sizes StableAvatar was trained on
STEP_PRESETS = {"draft": 10, "balanced": 25, "quality": 50}
DEFAULT_PROMPT = ("A person is talking to the camera with natural facial expressions, lip movements and slight "
                  "head motion, in a clear, well-lit scene.")
# Wan2.1's standard negative prompt, as the reference hard-codes it.
DEFAULT_NEGATIVE = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
                    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
                    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走")


def parse_size(value: str) -> tuple[int, int]:
    """'512x512' -> (512, 512): width and height, multiples of 16 from 32 to 2048."""
    try:
        width, height = (int(v) for v in str(value).lower().replace("×", "x").split("x"))
    except ValueError as exc:
        raise BadInputError(f"bad size {value!r}: use WIDTHxHEIGHT, e.g. {RESOLUTIONS[0]}") from exc
    if not (32 <= width <= 2048 and 32 <= height <= 2048 and width % 16 == 0 and height % 16 == 0):
        raise BadInputError(f"size {value}: width and height must be multiples of 16 between 32 and 2048")
    return width, height


@dataclass(kw_only=True)
class AvatarRequest(EngineRequest):
    """``size`` is WIDTHxHEIGHT: the UI offers the three trained sizes; the CLI takes any multiple of 16.
    ``colour_correction`` 0..1 is the strength of the per-frame Lab transfer towards the reference (0 = off)."""

    image: str
    prompt: str = DEFAULT_PROMPT
    negative_prompt: str = DEFAULT_NEGATIVE
    size: str = RESOLUTIONS[0]
    steps: int = STEP_PRESETS["balanced"]
    text_guidance: float = 3.0
    audio_guidance: float = 5.0
    overlap: int = 5                     # latents shared by consecutive windows (1..20)
    overlap_scheme: str = "uniform"      # uniform | log
    memory: str = "full"                 # full | offload | fp8 | sequential
    colour_correction: float = 0.0

    def check(self) -> None:
        parse_size(self.size)
        checks = [
            (bool(str(self.image or "").strip()), "no reference image: choose a photo of the person"),
            (1 <= self.steps <= 100, f"sampling steps must be 1..100, got {self.steps}"),
            (0 <= self.text_guidance <= 20, f"text guidance must be 0..20, got {self.text_guidance}"),
            (0 <= self.audio_guidance <= 20, f"audio guidance must be 0..20, got {self.audio_guidance}"),
            (1 <= self.overlap < WINDOW, f"overlap must be 1..{WINDOW - 1} latent frames, got {self.overlap}"),
            (self.overlap_scheme in SCHEMES,
             f"overlap weighting must be {' or '.join(SCHEMES)}, got {self.overlap_scheme!r}"),
            (self.memory in MODES, f"memory mode must be one of {', '.join(MODES)}, got {self.memory!r}"),
            (0 <= self.colour_correction <= 1, f"colour correction must be 0..1, got {self.colour_correction}"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInputError(message)
        if not Path(self.image).expanduser().is_file():
            raise BadInputError(f"reference image {self.image} not found")

    @property
    def width_height(self) -> tuple[int, int]:
        return parse_size(self.size)


REQUEST = AvatarRequest
