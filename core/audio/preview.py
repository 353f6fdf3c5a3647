"""Waveform pictures for the UI's audio panel (numpy only): the prepared driving audio with its silent spans shaded,
and the speech map (speech shaded, the face's rest stretches marked)."""
from __future__ import annotations

import numpy as np

BACKGROUND = (250, 250, 250)
SILENT = (255, 222, 222)   # shaded columns: frames the silence map calls silent
WAVE = (40, 90, 200)
AXIS = (180, 180, 180)
SPEECH = (214, 240, 214)   # speech map: frames the detector calls speech
REST = (236, 236, 236)     # ...and where the face rests, with a band along the bottom
REST_MARK = (235, 130, 30)


def waveform_image(samples: np.ndarray, silence: np.ndarray, fps: float = 25.0, rate: int = 16000,
                   width: int = 800, height: int = 120) -> np.ndarray:
    """RGB uint8 [height, width, 3]: per-column min/max of ``samples`` over a background shaded where silent."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    n = len(samples)
    if n == 0:
        return image
    duration = n / rate
    cols = np.arange(width)
    frame_of_col = np.minimum(((cols + 0.5) / width * duration * fps).astype(int), max(len(silence) - 1, 0))
    if len(silence):
        image[:, silence[frame_of_col]] = SILENT
    _draw_wave(image, samples)
    return image


def speech_map_image(samples: np.ndarray, speech: np.ndarray, fps: float = 25.0, rate: int = 16000,
                     width: int = 800, height: int = 120, band: int = 10) -> np.ndarray:
    """RGB uint8 [height, width, 3]: the waveform over columns shaded ``SPEECH`` where ``speech`` (bool per frame)
    is True and ``REST`` elsewhere, with a ``REST_MARK`` band of ``band`` px along the bottom of rest columns."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    if len(samples) == 0 or len(speech) == 0:
        return image
    cols = np.arange(width)
    frame_of_col = np.minimum(((cols + 0.5) / width * len(samples) / rate * fps).astype(int), len(speech) - 1)
    talking = np.asarray(speech, bool)[frame_of_col]
    image[:, talking] = SPEECH
    image[:, ~talking] = REST
    _draw_wave(image[:height - band], samples)
    image[height - band:, ~talking] = REST_MARK
    return image


def _draw_wave(image: np.ndarray, samples: np.ndarray) -> None:
    """Per-column min/max strokes of ``samples`` over ``image`` (in place), around a mid axis."""
    height, width = image.shape[:2]
    n = len(samples)
    if n == 0:
        return
    mid = height // 2
    image[mid, :] = AXIS
    edges = np.linspace(0, n, width + 1).astype(int)
    peak = max(float(np.max(np.abs(samples))), 1e-9)
    for c in range(width):
        block = samples[edges[c]:max(edges[c + 1], edges[c] + 1)]
        top = mid - int(round(float(block.max()) / peak * (mid - 2)))
        bottom = mid - int(round(float(block.min()) / peak * (mid - 2)))
        image[max(min(top, bottom), 0):min(max(top, bottom), height - 1) + 1, c] = WAVE
