"""A waveform picture of the prepared driving audio with its silent spans shaded, for the UI's preview (numpy only)."""
from __future__ import annotations

import numpy as np

BACKGROUND = (250, 250, 250)
SILENT = (255, 222, 222)   # shaded columns: frames the silence map calls silent
WAVE = (40, 90, 200)
AXIS = (180, 180, 180)


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
    mid = height // 2
    image[mid, :] = AXIS
    edges = np.linspace(0, n, width + 1).astype(int)
    peak = max(float(np.max(np.abs(samples))), 1e-9)
    for c in range(width):
        block = samples[edges[c]:max(edges[c + 1], edges[c] + 1)]
        top = mid - int(round(float(block.max()) / peak * (mid - 2)))
        bottom = mid - int(round(float(block.min()) / peak * (mid - 2)))
        image[max(min(top, bottom), 0):min(max(top, bottom), height - 1) + 1, c] = WAVE
    return image
