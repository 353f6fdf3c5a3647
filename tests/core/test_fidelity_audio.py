"""Issue 12 item 1: driving audio equals librosa.load(sr=16000)'s samples (derivation:
tests/golden/media_resample.py)."""
from __future__ import annotations

import numpy as np
import pytest

from core.media import load_audio
from tests.golden import media_resample as G
from tests.samples import make_tone, speech_wav


@pytest.mark.parametrize("kind", ["speech 22.05 kHz", "stereo 44.1 kHz", "tone 16 kHz"])
def test_load_audio_matches_librosa(tmp_path, kind):
    if kind.startswith("speech"):
        path = speech_wav(tmp_path / "speech.wav")
    elif kind.startswith("stereo"):
        path = G.stereo_noise(tmp_path / "noise.wav")
    else:
        path = make_tone(tmp_path / "tone.wav", seconds=0.5, sr=16000)
    ref = G.librosa_samples(path)
    ours = load_audio(path, sr=16000)
    assert abs(ours.size - ref.size) <= 1  # ours ends at the declared duration (rounded), librosa's at ceil
    assert np.abs(ours - ref[:ours.size]).max() <= 1e-6


def test_libswresample_defaults_were_off_in_the_high_band(tmp_path):
    path = speech_wav(tmp_path / "speech.wav")
    ref, old = G.librosa_samples(path), G.swresample_samples(path)
    d = old[:ref.size] - ref[:old.size]
    assert np.abs(d).max() > 0.01 and G.high_band_share(d) > 0.9


@pytest.mark.parametrize("fps", [25, 30, 29.97])
def test_frame_count_rounds_to_the_nearest_frame_where_the_reference_floors(fps):
    import math

    from core.media import frames_needed

    for k in (1, 7, 250):
        below, above = (k + 0.5 - 1e-6) / fps, (k + 0.5 + 1e-6) / fps  # both edges of the half frame
        assert frames_needed(k / fps, fps) == k == math.floor(k / fps * fps + 1e-9)
        assert frames_needed(below, fps) == k == math.floor(below * fps)
        assert frames_needed(above, fps) == k + 1 and math.floor(above * fps) == k  # the reference is a frame short
        for seconds in (below, above):
            assert abs(frames_needed(seconds, fps) / fps - seconds) <= 0.5 / fps + 1e-9
        assert above - math.floor(above * fps) / fps > 0.5 / fps  # floor leaves over half a frame without picture
