"""Signal helpers for the driving audio: resampling, mono, peak and loudness (ITU-R BS.1770-style) normalisation."""
from __future__ import annotations

import numpy as np
import soxr
from scipy.signal import lfilter


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """[N] or [N, C] float32 at ``rate_out`` (soxr high quality, the resampler librosa uses)."""
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def to_mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples.astype(np.float32, copy=False)


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def peak_dbfs(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else -np.inf


def peak_normalize(samples: np.ndarray, target_dbfs: float = -1.0) -> np.ndarray:
    """Scale so the highest sample sits at ``target_dbfs`` (silence is returned unchanged)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak <= 0:
        return samples
    return (samples * (db_to_gain(target_dbfs) / peak)).astype(np.float32)


def _biquad_high_shelf(rate: int, gain_db: float, q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    a = 10 ** (gain_db / 40.0)
    w0 = 2 * np.pi * fc / rate
    alpha = np.sin(w0) / (2 * q)
    cw = np.cos(w0)
    b = [a * ((a + 1) + (a - 1) * cw + 2 * np.sqrt(a) * alpha), -2 * a * ((a - 1) + (a + 1) * cw),
         a * ((a + 1) + (a - 1) * cw - 2 * np.sqrt(a) * alpha)]
    den = [(a + 1) - (a - 1) * cw + 2 * np.sqrt(a) * alpha, 2 * ((a - 1) - (a + 1) * cw),
           (a + 1) - (a - 1) * cw - 2 * np.sqrt(a) * alpha]
    return np.array(b) / den[0], np.array(den) / den[0]


def _biquad_high_pass(rate: int, q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    w0 = 2 * np.pi * fc / rate
    alpha = np.sin(w0) / (2 * q)
    cw = np.cos(w0)
    b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
    den = [1 + alpha, -2 * cw, 1 - alpha]
    return np.array(b) / den[0], np.array(den) / den[0]


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """BS.1770-4 integrated loudness in LUFS: K-weighting, 400 ms blocks (75 % overlap), -70 LUFS and -10 LU gates.

    The K filters are designed for ``rate`` from their analogue parameters (shelf +4 dB at 1.5 kHz, high-pass 38 Hz),
    as pyloudnorm does, so 16 kHz input is measured directly. Returns -inf for silence.
    """
    x = samples if samples.ndim == 2 else samples[:, None]
    x = x.astype(np.float64)
    for b, a in (_biquad_high_shelf(rate, 4.0, 1 / np.sqrt(2), 1500.0), _biquad_high_pass(rate, 0.5, 38.0)):
        x = lfilter(b, a, x, axis=0)
    block, hop = int(round(0.4 * rate)), int(round(0.1 * rate))
    if x.shape[0] < block:
        powers = np.array([np.mean(x ** 2, axis=0).sum()])
    else:
        starts = np.arange(0, x.shape[0] - block + 1, hop)
        csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x ** 2, axis=0)])
        powers = ((csum[starts + block] - csum[starts]) / block).sum(axis=1)
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(powers)
    kept = powers[loud > -70.0]
    if kept.size == 0:
        return -np.inf
    relative = -0.691 + 10 * np.log10(kept.mean()) - 10.0
    kept = powers[(loud > -70.0) & (loud > relative)]
    return float(-0.691 + 10 * np.log10(kept.mean()))


def loudness_normalize(samples: np.ndarray, rate: int, target_lufs: float = -20.0,
                       ceiling_dbfs: float = -1.0) -> tuple[np.ndarray, float]:
    """Gain to ``target_lufs``, lowered if needed so no sample exceeds ``ceiling_dbfs``; returns (audio, gain dB)."""
    loud = integrated_loudness(samples, rate)
    if not np.isfinite(loud):
        return samples, 0.0
    gain_db = target_lufs - loud
    headroom = ceiling_dbfs - peak_dbfs(samples)
    gain_db = min(gain_db, headroom)
    return (samples * db_to_gain(gain_db)).astype(np.float32), float(gain_db)
