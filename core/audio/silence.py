"""Per-video-frame speech/silence mask from the driving signal: frame energy with hysteresis.

Thresholds are relative to the loud part of the clip (its 95th-percentile frame level) so a quiet recording and a
loud one give the same map, with an absolute floor so room noise alone never counts as speech.
"""
from __future__ import annotations

import numpy as np

FPS = 25.0
ON_BELOW_REF_DB = 30.0   # a frame starts speech when it is within 30 dB of the clip's loud level...
OFF_BELOW_ON_DB = 6.0    # ...and speech continues until a frame falls 6 dB below that
FLOOR_DBFS = -55.0       # never speech below this level, however quiet the clip
MIN_PAUSE_FRAMES = 3     # silent runs between speech shorter than this (stops, plosives) count as speech


def frame_levels_db(samples: np.ndarray, rate: int, fps: float = FPS) -> np.ndarray:
    """RMS level (dBFS) of each video frame's span of mono ``samples``; frame i covers [i/fps, (i+1)/fps)."""
    n_frames = int(np.ceil(len(samples) * fps / rate - 1e-9))
    bounds = np.minimum(np.round(np.arange(n_frames + 1) * rate / fps).astype(np.int64), len(samples))
    csum = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    lengths = np.maximum(bounds[1:] - bounds[:-1], 1)
    power = (csum[bounds[1:]] - csum[bounds[:-1]]) / lengths
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.maximum(power, 1e-20))


def silence_map(samples: np.ndarray, rate: int, fps: float = FPS) -> np.ndarray:
    """Boolean array, one per frame at ``fps``: True where the frame is silent (no speech)."""
    levels = frame_levels_db(samples, rate, fps)
    if levels.size == 0:
        return np.zeros(0, dtype=bool)
    on = max(float(np.percentile(levels, 95)) - ON_BELOW_REF_DB, FLOOR_DBFS)
    off = on - OFF_BELOW_ON_DB
    speech = np.zeros(levels.size, dtype=bool)
    active = False
    for i, level in enumerate(levels):
        active = level >= on if not active else level >= off
        speech[i] = active
    silent = ~speech
    for begin, finish in _runs(silent):
        if begin > 0 and finish < silent.size and finish - begin < MIN_PAUSE_FRAMES:
            silent[begin:finish] = False
    return silent


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[begin, end) frame indices of each run of True."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def silent_spans(mask: np.ndarray, fps: float = FPS) -> list[tuple[float, float]]:
    """(start, end) seconds of each run of silent frames."""
    return [(begin / fps, finish / fps) for begin, finish in _runs(mask)]
