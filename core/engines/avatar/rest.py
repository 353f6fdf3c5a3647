"""Rest on silence for the avatar: wav2vec hears digital silence where nobody speaks.

A deviation from StableAvatar, whose wav2vec features follow every sound of the driving audio (breaths, room noise
and music move its mouth). With ``rest="on"`` (the default; ``--rest off`` is the reference) the samples of each rest
stretch of the speech map (``core.audio.vad``) are set to zero before wav2vec, with a raised-cosine fade of
``core.audio.rest.FADE_S`` (80 ms) inside the stretch at each edge with speech, so the features never see a click
and speech samples stay untouched. Only the model's input changes: the output video keeps the creator's track.
"""
from __future__ import annotations

import numpy as np

from core.audio.rest import silence_envelope, speech_map_for
from core.wan.audio import FPS, SR


def wav2vec_input(request, speech: np.ndarray, ctx) -> np.ndarray:
    """The driving samples (16 kHz) wav2vec should hear: rest stretches silenced with fades, or ``speech`` itself
    when rest is off."""
    speech_map = speech_map_for(request.audio, speech, SR, ctx)
    if speech_map is None:
        return speech
    gain = silence_envelope(speech_map.rest, len(speech), FPS, SR)
    ctx.log(f"rest on silence: {float((gain == 0).mean()):.0%} of the driving samples silenced before wav2vec")
    return speech * gain
