"""Colour correction: per-frame Lab mean/std transfer towards the reference, blended by strength."""
import numpy as np

from core.engines.avatar import colour


def test_transfer_moves_lab_statistics_to_the_reference():
    rng = np.random.default_rng(0)
    reference = rng.integers(60, 200, (24, 32, 3), dtype=np.uint8)
    frames = np.clip(reference.astype(int)[None] * np.array([1.2, 0.8, 0.7]) + 20, 0, 255).astype(np.uint8)
    frames = np.repeat(frames, 2, axis=0)
    target = colour.lab_stats(reference)
    before = np.abs(colour.lab_stats(frames[0])[0] - target[0]).sum()
    full = colour.match(frames, target, 1.0)
    after = np.abs(colour.lab_stats(full[0])[0] - target[0]).sum()
    assert full.shape == frames.shape and full.dtype == np.uint8
    assert after < 0.1 * before
    np.testing.assert_allclose(colour.lab_stats(full[1])[1], target[1], rtol=0.1)
    half = np.abs(colour.lab_stats(colour.match(frames, target, 0.5)[0])[0] - target[0]).sum()
    assert after < half < before
    assert colour.match(frames, target, 0.0) is frames


def test_flat_frame_takes_the_reference_mean():
    reference = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    flat = np.full((1, 16, 16, 3), 128, dtype=np.uint8)
    out = colour.match(flat, colour.lab_stats(reference), 1.0)
    assert np.ptp(out.reshape(-1, 3), axis=0).max() <= 1                 # still one colour
    assert np.abs(colour.lab_stats(out[0])[0] - colour.lab_stats(reference)[0]).max() < 1
