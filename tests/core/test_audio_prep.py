"""Audio preparation without the separator: decoding and trimming, normalisation, the silence map, and the errors."""
import dataclasses
import json
import struct

import numpy as np
import pytest
import soundfile as sf

from core.audio import dsp, silence
from core.audio.decode import decode_audio
from core.audio.prepare import AudioOptions, prepare_audio
from core.errors import BadInputError
from tests.samples import make_tone, make_video

SR = 16000


def bursts(spans, seconds, sr=SR, hz=300.0, amplitude=0.3, noise=1e-4, seed=0):
    """A tone present only inside `spans` (seconds), over faint noise: speech-like bursts with gaps of known length."""
    t = np.arange(int(seconds * sr)) / sr
    x = np.random.default_rng(seed).normal(0.0, noise, t.size)
    for a, b in spans:
        on = (t >= a) & (t < b)
        x[on] += amplitude * np.sin(2 * np.pi * hz * t[on])
    return x.astype(np.float32)


def test_trim_returns_exactly_the_range(tmp_path):
    sr = 44100
    t = np.arange(3 * sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 660 * t)], 1).astype(np.float32) * 0.5
    sf.write(tmp_path / "a.wav", stereo, sr, subtype="FLOAT")
    got = decode_audio(tmp_path / "a.wav", 0.5, 2.25)
    assert got.rate == sr and got.channels == 2
    assert got.samples.shape[0] == int(1.75 * sr)
    np.testing.assert_allclose(got.samples, stereo[int(0.5 * sr):int(2.25 * sr)], atol=1e-6)


def test_audio_from_a_video(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", seconds=2.0, tone_hz=440.0)
    got = decode_audio(clip)
    assert got.channels == 1 and abs(got.duration - 2.0) < 0.05
    spectrum = np.abs(np.fft.rfft(got.samples[:, 0]))
    assert abs(np.argmax(spectrum) * got.rate / got.samples.shape[0] - 440.0) < 2.0


def test_peak_normalisation_hits_the_target():
    x = bursts([(0.2, 0.8)], 1.0) * 0.1
    y = dsp.peak_normalize(x, -1.0)
    assert np.max(np.abs(y)) == pytest.approx(10 ** (-1 / 20), rel=1e-5)


def test_loudness_of_a_reference_sine_and_normalisation():
    # BS.1770: a full-scale 997 Hz sine reads -3.01 LUFS (0.5 mean square, K-weighting ~ +0.69 dB cancelled by -0.691).
    t = np.arange(4 * SR) / SR
    sine = np.sin(2 * np.pi * 997 * t).astype(np.float32)
    assert dsp.integrated_loudness(sine, SR) == pytest.approx(-3.01, abs=0.15)
    quiet = 0.01 * sine
    out, _ = dsp.loudness_normalize(quiet, SR, -23.0)
    assert dsp.integrated_loudness(out, SR) == pytest.approx(-23.0, abs=0.05)
    assert np.max(np.abs(out)) == pytest.approx(10 ** ((-23 + 3.01) / 20), rel=0.02)  # sine amplitude for -23 LUFS
    loud, _ = dsp.loudness_normalize(sine, SR, -3.0)  # would clip: capped at the -1 dBFS ceiling
    assert np.max(np.abs(loud)) == pytest.approx(10 ** (-1 / 20), rel=1e-4)


def test_silence_map_matches_gaps_within_one_frame():
    spans = [(0.40, 1.20), (1.80, 2.30), (3.10, 3.60)]
    x = bursts(spans, 4.0)
    mask = silence.silence_map(x, SR)
    assert mask.size == 100  # 4 s at 25 fps
    expected = np.ones(100, bool)
    for a, b in spans:
        expected[int(round(a * 25)):int(round(b * 25))] = False
    assert np.count_nonzero(mask != expected) <= 2 * len(spans)  # at most one frame per edge
    gaps = silence.silent_spans(mask)
    want = [(0.0, 0.40), (1.20, 1.80), (2.30, 3.10), (3.60, 4.0)]
    assert len(gaps) == len(want)
    for (a, b), (wa, wb) in zip(gaps, want):
        assert abs(a - wa) <= 0.04 + 1e-9 and abs(b - wb) <= 0.04 + 1e-9


def test_short_stops_inside_speech_are_not_pauses():
    x = bursts([(0.5, 1.0), (1.06, 1.6)], 2.0)  # a 60 ms stop (like a plosive) between two syllables
    gaps = silence.silent_spans(silence.silence_map(x, SR))
    assert len(gaps) == 2 and gaps[0][1] == pytest.approx(0.5, abs=0.04 + 1e-9)


def test_silence_map_ignores_level_but_not_the_floor():
    x = bursts([(0.5, 1.5)], 2.0)
    assert np.array_equal(silence.silence_map(x, SR), silence.silence_map(x * 0.05, SR))
    assert silence.silence_map(np.full(SR, 1e-4, np.float32), SR).all()  # faint hiss is never speech


def test_prepare_without_separation(tmp_path):
    sr = 44100
    x = bursts([(0.3, 1.0), (1.5, 2.2)], 2.5, sr=sr)
    stereo = np.stack([x, 0.5 * x], 1)
    sf.write(tmp_path / "speech.wav", stereo, sr, subtype="FLOAT")
    calls = []
    opts = AudioOptions(audio=str(tmp_path / "speech.wav"), start=0.1, end=2.4, normalize="peak")
    prepared = prepare_audio(opts, lambda f, m: calls.append(f))
    assert calls and calls[-1] == 1.0 and not prepared.cache_hit
    driving, rate = sf.read(prepared.driving_wav, dtype="float32")
    assert rate == 16000 and driving.ndim == 1 and prepared.duration == pytest.approx(2.3, abs=1e-3)
    assert np.max(np.abs(driving)) == pytest.approx(10 ** (-1 / 20), rel=1e-3)
    out, out_rate = sf.read(prepared.output_audio, dtype="float32", always_2d=True)
    assert out_rate == sr and out.shape == (int(round(2.3 * sr)), 2)
    np.testing.assert_allclose(out, stereo[int(0.1 * sr):int(0.1 * sr) + out.shape[0]], atol=1e-6)
    assert prepared.silence.size == 58  # ceil(2.3 s * 25)
    assert prepared.silent_spans()[0] == pytest.approx((0.0, 0.2), abs=0.04 + 1e-9)
    again = prepare_audio(opts)
    assert again.cache_hit and np.array_equal(again.silence, prepared.silence)
    assert again.driving_wav == prepared.driving_wav


def test_keep_audio_other_file_is_fitted_to_the_driving_length(tmp_path):
    make_tone(tmp_path / "voice.wav", 2.0, sr=16000, hz=300.0)
    make_tone(tmp_path / "music.wav", 1.0, sr=48000, hz=1000.0)
    prepared = prepare_audio(AudioOptions(audio=str(tmp_path / "voice.wav"), keep_audio=str(tmp_path / "music.wav")))
    out, rate = sf.read(prepared.output_audio, dtype="float32", always_2d=True)
    assert rate == 48000 and out.shape[0] == 96000
    assert np.max(np.abs(out[50000:])) == 0.0 and np.max(np.abs(out[:40000])) > 0.4
    assert any("shorter than the driving audio" in w for w in prepared.warnings)


@pytest.mark.parametrize("case, message", [
    ("no_stream", "no audio stream in clip.mp4"),
    ("silent", "is silent"),
    ("past_end", "past the end of tone.wav"),
    ("start_after_end", "past the end of tone.wav"),
    ("corrupt", "cannot read broken.wav"),
    ("zero_length", "empty.wav has no decodable audio frames"),
    ("bad_keep", "--keep-audio must be mix, vocals or an existing audio file"),
    ("unknown_codec", "unsupported audio codec"),
])
def test_clear_messages(tmp_path, case, message):
    tone = make_tone(tmp_path / "tone.wav", 1.0)
    opts = {"audio": str(tone)}
    if case == "no_stream":
        opts["audio"] = str(make_video(tmp_path / "clip.mp4", seconds=1.0, tone_hz=None))
    elif case == "silent":
        sf.write(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000)
        opts["audio"] = str(tmp_path / "quiet.wav")
    elif case == "past_end":
        opts.update(start=0.5, end=3.0)
    elif case == "start_after_end":
        opts.update(start=2.0)
    elif case == "corrupt":
        (tmp_path / "broken.wav").write_bytes(b"RIFF" + bytes(100))
        opts["audio"] = str(tmp_path / "broken.wav")
    elif case == "zero_length":
        sf.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 16000)
        opts["audio"] = str(tmp_path / "empty.wav")
    elif case == "bad_keep":
        opts["keep_audio"] = "music"
    elif case == "unknown_codec":  # a WAV whose format tag (0x1234) no decoder knows
        fmt = struct.pack("<HHIIHH", 0x1234, 1, 16000, 32000, 2, 16)
        data = bytes(32000)
        body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
        (tmp_path / "odd.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
        opts["audio"] = str(tmp_path / "odd.wav")
    with pytest.raises(BadInputError) as info:
        prepare_audio(AudioOptions(**opts))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_options_travel_inside_an_engine_request():
    """Every engine request carries one AudioOptions (no copies of its fields); it survives request.json."""
    from core.engines.lipdub import LipdubRequest

    opts = AudioOptions(audio="a.wav", start=1.0, separate_vocals=True, device="cpu")
    req = LipdubRequest(video="v.mp4", audio=opts)
    assert req.audio == opts
    assert LipdubRequest.from_dict(json.loads(json.dumps(dataclasses.asdict(req)))) == req


def test_progress_fills_the_given_span(tmp_path):
    make_tone(tmp_path / "t.wav", 1.0)
    seen = []
    prepare_audio(AudioOptions(audio=str(tmp_path / "t.wav")), lambda f, m: seen.append(f), span=(0.2, 0.4))
    assert min(seen) == pytest.approx(0.2) and max(seen) == pytest.approx(0.4)


def test_options_serialise_as_plain_json():
    opts = AudioOptions(audio="a.wav", start=1.0, separate_vocals=True, keep_audio="vocals", normalize="loudness")

    assert AudioOptions(**json.loads(json.dumps(dataclasses.asdict(opts)))) == opts


def test_engine_cli_flags_build_audio_options():
    import argparse

    from core.audio.cli import add_audio_args, audio_options_from_args

    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    add_audio_args(parser)
    args = parser.parse_args(["--audio", "a.mp4", "--separate-vocals", "--keep-audio", "music.wav", "--start", "1",
                              "--end", "2.5", "--normalize", "loudness", "--loudness-lufs", "-18"])
    assert audio_options_from_args(args) == AudioOptions(
        audio="a.mp4", start=1.0, end=2.5, separate_vocals=True, keep_audio="music.wav", normalize="loudness",
        loudness_lufs=-18.0, device="cpu")
    defaults = audio_options_from_args(parser.parse_args(["--audio", "a.wav"]))
    assert (defaults.keep_audio, defaults.separate_vocals, defaults.normalize) == ("mix", False, "none")
