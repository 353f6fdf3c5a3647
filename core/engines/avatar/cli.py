"""`python -m core avatar`: StableAvatar's own flags; the shared ones (audio, output, device, seed...) come from core.cli."""
from __future__ import annotations

import argparse
from typing import Any

from core.errors import BadInputError
from core.wan.sampling import SCHEMES

from .memory import MODES
from .request import DEFAULT_NEGATIVE, DEFAULT_PROMPT, RESOLUTIONS, STEP_PRESETS, AvatarRequest


def steps_value(value: str) -> int:
    """An integer, or a preset name: draft (10), balanced (25), quality (50)."""
    if value in STEP_PRESETS:
        return STEP_PRESETS[value]
    try:
        return int(value)
    except ValueError as exc:
        raise BadInputError(f"steps {value!r}: give a number or one of {', '.join(STEP_PRESETS)}") from exc


def add_arguments(p: argparse.ArgumentParser) -> None:
    defaults = AvatarRequest(image="")
    p.add_argument("--image", required=True, help="reference photo (stretched to --size, no crop)")
    p.add_argument("--prompt", default=DEFAULT_PROMPT, help="what the video shows: first frame, behaviour, background")
    p.add_argument("--negative-prompt", default=DEFAULT_NEGATIVE, help="what to avoid (default: Wan's standard one)")
    p.add_argument("--size", default=defaults.size, help=f"WIDTHxHEIGHT, multiples of 16; trained: {', '.join(RESOLUTIONS)}")
    p.add_argument("--steps", default=str(defaults.steps),
                   help="sampling steps, or draft (10) / balanced (25) / quality (50)")
    p.add_argument("--text-guidance", type=float, default=defaults.text_guidance)
    p.add_argument("--audio-guidance", type=float, default=defaults.audio_guidance)
    p.add_argument("--overlap", type=int, default=defaults.overlap, help="latent frames shared by windows (1-20)")
    p.add_argument("--overlap-scheme", choices=SCHEMES, default=defaults.overlap_scheme)
    p.add_argument("--memory", choices=MODES, default=defaults.memory,
                   help="full, offload (models move to the GPU in turn), fp8 (+ offload), sequential (slowest)")
    p.add_argument("--colour-correction", type=float, default=defaults.colour_correction,
                   help="strength 0-1 of the per-frame colour match to the photo (0 = off)")


def request_from_args(args: argparse.Namespace, common: dict[str, Any]) -> AvatarRequest:
    return AvatarRequest(
        image=args.image, prompt=args.prompt, negative_prompt=args.negative_prompt, size=args.size,
        steps=steps_value(args.steps), text_guidance=args.text_guidance, audio_guidance=args.audio_guidance,
        overlap=args.overlap, overlap_scheme=args.overlap_scheme, memory=args.memory,
        colour_correction=args.colour_correction, **common)
