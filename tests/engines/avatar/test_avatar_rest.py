"""Avatar rest on silence: wav2vec hears zeros on rest stretches, with the stated raised-cosine fades, and the
unchanged speech elsewhere (spied on the real wav2vec of the tiny checkpoints); rest off feeds it the audio as is."""
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.audio import dsp
from core.audio.options import AudioOptions
from core.audio.rest import FADE_S, speech_map_for
from core.engines.avatar import pipeline
from core.engines.avatar.request import AvatarRequest
from core.jobs import run_job
from core.wan.audio import FRAME, SR, Wav2Vec, window_samples
from tests.samples import speech_wav

pytest_plugins = ["tests.avatar_support"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> tuple[str, np.ndarray]:
    """Speech, 1.2 s of breath-like noise at -40 dBFS, speech: 3 s at most, one window."""
    d = tmp_path_factory.mktemp("avatar_rest")
    x, rate = sf.read(str(speech_wav(d / "w.wav", "Hello there")), dtype="float32")
    x = dsp.resample(x, rate, SR)
    loud = np.flatnonzero(np.abs(x) > 1e-3)
    word = x[loud[0]:loud[-1] + 1][: int(0.8 * SR)]
    noise = (0.01 * np.random.default_rng(0).standard_normal(int(1.2 * SR))).astype(np.float32)
    samples = np.concatenate([word, noise, word[: int(0.6 * SR)]])
    sf.write(d / "voice.wav", samples, SR, subtype="FLOAT")
    return str(d / "voice.wav"), samples


def _heard(avatar_checkpoints, voice, rest, monkeypatch) -> np.ndarray:
    heard = []
    original = Wav2Vec.__call__
    monkeypatch.setattr(Wav2Vec, "__call__", lambda self, s: heard.append(np.array(s)) or original(self, s))
    skimage = __import__("skimage")
    image = str(Path(skimage.__file__).parent / "data" / "astronaut.png")
    req = AvatarRequest(image=image, audio=AudioOptions(voice[0], rest=rest), size="64x48", steps=1,
                        checkpoints=str(avatar_checkpoints), crf=0)
    run_job("avatar", pipeline.preview, req)
    assert len(heard) == 1  # one window
    return heard[0]


def test_wav2vec_hears_zeros_on_rest_stretches_with_fades(avatar_checkpoints, voice, monkeypatch):
    samples = voice[1]
    heard = _heard(avatar_checkpoints, voice, "on", monkeypatch)
    first, last = window_samples(0, (len(heard) // FRAME + 3) // 4)
    assert first == 0 and last == len(heard)
    n = min(len(samples), len(heard))
    rest = speech_map_for(AudioOptions(voice[0]), samples, SR).rest
    runs = np.flatnonzero(np.diff(np.concatenate([[0], rest.astype(int), [0]])))
    inner = [(a, b) for a, b in zip(runs[::2], runs[1::2]) if a > 0 and b < rest.size]
    assert len(inner) == 1  # the noise gap, and only it
    a, b = inner[0]
    assert abs(a / 25 - 0.8) <= 0.2 and abs(b / 25 - 2.0) <= 0.2  # detector accuracy: tests/core/test_vad.py
    s0, s1 = a * FRAME, b * FRAME
    fade = round(FADE_S * SR)
    ramp = 0.5 * (1 + np.cos(np.pi * (np.arange(fade) + 1) / (fade + 1)))
    assert np.all(heard[s0 + fade:s1 - fade] == 0.0)                      # digital silence inside
    np.testing.assert_allclose(heard[s0:s0 + fade], samples[s0:s0 + fade] * ramp, atol=1e-7)  # fade out of speech
    np.testing.assert_allclose(heard[s1 - fade:s1], samples[s1 - fade:s1] * ramp[::-1], atol=1e-7)
    speaking = np.repeat(~rest, FRAME)[:n]
    assert np.array_equal(heard[:n][speaking], samples[:n][speaking])      # speech untouched
    assert np.abs(samples[s0 + fade:s1 - fade]).max() > 0.01               # the noise was there to silence


def test_rest_off_feeds_the_audio_as_is(avatar_checkpoints, voice, monkeypatch):
    samples = voice[1]
    heard = _heard(avatar_checkpoints, voice, "off", monkeypatch)
    n = min(len(samples), len(heard))
    assert np.array_equal(heard[:n], samples[:n])
