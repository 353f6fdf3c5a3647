"""Rest on silence, shared by every engine: the speech map of the driving audio, and the eased weights that move a
face into its rest pose and out again.

``speech_map_for(options, samples, sr, ctx, frames)`` is what an engine calls after ``driving_audio``: the cached
silero-vad map (``core.audio.vad``) of exactly the samples it drives with, cut to its frame count, or None when the
creator turned rest off. Audio in which the detector finds no speech at all is refused with rest on (music, noise,
a tone): the face would rest throughout. Rest off keeps the references' behaviour, where every frame follows the
audio.

Weights: ``rest_weights(rest)`` is 0 on speech frames and 1 inside rest runs, with smoothstep ramps of
``RAMP_FRAMES`` frames *inside* each rest run at its edges with speech (never at the clip's head or tail), so speech
frames are always driven by speech alone and a face closes its mouth over 120 ms after a word and opens it again
just before the next one. A rest run shorter than two ramps peaks below 1. ``silence_envelope`` is the same idea per
sample, for engines that silence the audio itself (avatar).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from core.audio import dsp, vad
from core.audio.options import AudioOptions
from core.audio.silence import _runs
from core.errors import BadInputError

RAMP_FRAMES = 3            # frames over which a face eases into and out of rest (120 ms at 25 fps)
FADE_S = 0.08              # seconds of raised-cosine fade into and out of digital silence (avatar)
RATE = vad.RATE


def speech_map_for(options: AudioOptions, samples: np.ndarray, sr: int = RATE, ctx: Any = None,
                   frames: int | None = None) -> vad.SpeechMap | None:
    """The speech map of the driving ``samples`` (mono at ``sr``) with the creator's minimum pause, cut or padded to
    ``frames``; None when rest is off. BadInputError when rest is on and no frame holds speech."""
    from core.audio.prepare import FPS, speech_probabilities

    if options.rest == "off":
        return None
    driving = dsp.resample(samples, sr, RATE) if sr != RATE else samples
    prob = speech_probabilities(driving, ctx)
    speech = vad.SpeechMap(prob, vad.decide(prob, FPS, float(options.rest_min_pause)), FPS)
    if not speech.speech.any():
        raise BadInputError("no speech found in the driving audio (music, noise or a tone only): the face would rest "
                            "throughout; choose audio with speech, separate the vocals, or turn rest off (--rest off)")
    return speech if frames is None else speech.frames(frames)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def rest_weights(rest: np.ndarray, ramp: int = RAMP_FRAMES) -> np.ndarray:
    """float32 per frame in 0..1: how far the face is in its rest pose (module docstring)."""
    rest = np.asarray(rest, dtype=bool)
    weights = np.zeros(rest.size, np.float32)
    for begin, end in _runs(rest):
        k = np.arange(begin, end, dtype=np.float64)
        w = np.ones(end - begin)
        if begin > 0:
            w = np.minimum(w, _smoothstep((k - begin + 1) / (ramp + 1)))
        if end < rest.size:
            w = np.minimum(w, _smoothstep((end - k) / (ramp + 1)))
        weights[begin:end] = w
    return weights


def silence_envelope(rest: np.ndarray, n_samples: int, fps: float = 25.0, sr: int = RATE,
                     fade_s: float = FADE_S) -> np.ndarray:
    """float32 gain per sample: 0 inside rest runs (frame i covers samples [i·sr/fps, (i+1)·sr/fps)), 1 on speech,
    with a raised-cosine fade of ``fade_s`` inside each rest run at its edges with speech (shortened to half the run
    when the run is shorter than two fades)."""
    gain = np.ones(n_samples, np.float32)
    rest = np.asarray(rest, dtype=bool)
    for begin, end in _runs(rest):
        a, b = min(round(begin * sr / fps), n_samples), min(round(end * sr / fps), n_samples)
        if b <= a:
            continue
        fade = min(round(fade_s * sr), (b - a) // 2)
        gain[a:b] = 0.0
        ramp = (0.5 * (1 + np.cos(np.pi * (np.arange(fade) + 1) / (fade + 1)))).astype(np.float32)  # 1 -> 0
        if begin > 0 and fade:
            gain[a:a + fade] = ramp
        if end < rest.size and b < n_samples and fade:
            gain[b - fade:b] = ramp[::-1]
    return gain
