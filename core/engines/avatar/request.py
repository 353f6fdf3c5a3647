"""The infinite-avatar request: the shared vocabulary (``core.request.EngineRequest``) plus StableAvatar's choices.

Defaults follow the reference's ``inference.sh`` (text guidance 3, audio guidance 5, overlap 5, uniform overlap
weights, Wan's standard negative prompt) except the step count: 25 ("balanced"; the script uses 50, the app 10).
``dtype`` "auto" is bf16 on CUDA (the reference's precision) and fp32 on the CPU (``half_precision``). ``memory``
takes the avatar's modes (``memory.MODES``) besides the studio-wide profiles: ``low`` is ``sequential``, and ``auto``
chooses by ``memory.estimate_vram_gb`` (``memory_needs``).
Rest on silence (default ``rest="on"``, a deviation: the reference feeds wav2vec every sound): rest stretches of
the driving audio are digital silence, with 80 ms fades, before wav2vec (``rest.py``); ``--rest off`` is the reference.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInputError
from core.request import EngineRequest
from core.spec import param
from core.wan.sampling import SCHEMES, WINDOW

from .memory import CHOICES, MODES, PLACEMENT, estimate_vram_gb

RESOLUTIONS = ("512x512", "480x832", "832x480")       # width x height; the sizes StableAvatar was trained on
STEP_PRESETS = {"draft": 10, "balanced": 25, "quality": 50}
DEFAULT_PROMPT = ("A person is talking to the camera with natural facial expressions, lip movements and slight "
                  "head motion, in a clear, well-lit scene.")
# Wan2.1's standard negative prompt, as the reference hard-codes it.
DEFAULT_NEGATIVE = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，"
                    "静止，整体发灰，最差质量，低质量，"
                    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，"
                    "畸形的，毁容的，形态畸形的肢体，"
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


def steps_value(value: str | int) -> int:
    """An integer, or a preset name: draft (10), balanced (25), quality (50)."""
    if value in STEP_PRESETS:
        return STEP_PRESETS[value]
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadInputError(f"steps {value!r}: give a number or one of {', '.join(STEP_PRESETS)}") from None


def _size_text(value: str) -> str:
    """A checked size, kept as its text ('512x512')."""
    width, height = parse_size(value)
    return f"{width}x{height}"


@dataclass(kw_only=True)
class AvatarRequest(EngineRequest):
    """``size`` is WIDTHxHEIGHT: the UI offers the three trained sizes; the CLI takes any multiple of 16.
    ``colour_correction`` 0..1 is the strength of the per-frame Lab transfer towards the reference (0 = off)."""

    image: str = param(label="Reference photo", help="the person's photo (stretched to the size, no crop)",
                       ui=False)
    prompt: str = param(DEFAULT_PROMPT, "Prompt", "what the video shows: first frame, behaviour, background",
                        widget="textarea")
    negative_prompt: str = param(DEFAULT_NEGATIVE, "Negative prompt", "what to avoid (default: Wan's standard one)",
                                 widget="textarea", group="advanced")
    size: str = param(RESOLUTIONS[0], "Size", f"WIDTHxHEIGHT, multiples of 16 from 32 to 2048; trained: "
                      f"{', '.join(RESOLUTIONS)}", suggestions=RESOLUTIONS, parse=_size_text)
    steps: int = param(STEP_PRESETS["balanced"], "Sampling steps", "denoising steps per window, or draft (10) / "
                       "balanced (25) / quality (50)", range=(1, 100), step=1, parse=steps_value)
    text_guidance: float = param(3.0, "Text guidance", "classifier-free guidance on the prompt", range=(0, 20),
                                 step=0.5, group="advanced")
    audio_guidance: float = param(5.0, "Audio guidance", "classifier-free guidance on the audio", range=(0, 20),
                                  step=0.5, group="advanced")
    overlap: int = param(5, "Window overlap", "latent frames shared by consecutive windows",
                         range=(1, WINDOW - 1), step=1, unit="latents", group="advanced")
    overlap_scheme: str = param("uniform", "Overlap weighting", "how overlapping windows are blended",
                                choices=SCHEMES, group="advanced")
    memory: str = param("auto", "GPU memory mode", "auto (from the free VRAM at job start), full, offload (models "
                        "move to the GPU in turn), fp8 (+ offload), sequential or low (slowest)", choices=CHOICES,
                        group="advanced")
    colour_correction: float = param(0.0, "Colour correction", "strength of the per-frame colour match to the "
                                     "photo (0 = off)", range=(0, 1), step=0.05, group="advanced")

    half_precision = "bf16"             # dtype auto on CUDA, as the reference
    memory_placements = PLACEMENT

    def memory_needs(self, dtype) -> dict[str, float]:
        """Estimated peak bytes per memory mode at this size and precision, most resident first (for auto)."""
        import torch

        width, height = self.width_height
        half = max(torch.finfo(dtype).bits // 8, 1)
        return {mode: estimate_vram_gb(mode, width, height, half) * 2**30 for mode in MODES}

    def check(self) -> None:
        if not str(self.image or "").strip():
            raise BadInputError("no reference image: choose a photo of the person")
        if not Path(self.image).expanduser().is_file():
            raise BadInputError(f"reference image {self.image} not found")

    @property
    def width_height(self) -> tuple[int, int]:
        return parse_size(self.size)


REQUEST = AvatarRequest
