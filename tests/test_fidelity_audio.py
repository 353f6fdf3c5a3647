"""Issue 12 item 1: driving audio equals librosa.load(sr=16000)'s samples (derivation: tests/golden/media_resample.py)."""
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
