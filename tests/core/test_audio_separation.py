"""Vocal separation through audio-separator's real MDX path on tiny ONNX graphs with Kim_Vocal_2's signature,
its cache, the output-track choice muxed by core.media.VideoWriter, and the `separate` CLI.

The graph "left_only" keeps the left channel's spectrogram planes and zeroes the right ones, so on a stereo mix of
voice (left) and music (right) it is a perfect vocal separator whose stems we can compute by hand:
vocals = [voice, 0], accompaniment = mix - 1.009 * vocals = [-0.009 voice, music] (1.009 = Kim_Vocal_2's compensate).
"""
import os
import numpy as np
import onnxruntime as ort
import pytest
import soundfile as sf

from core import weights
from core.audio import weights as manifest
from core.audio.decode import decode_audio
from core.audio.prepare import AudioOptions, prepare_audio, separate_file
from core.cache import default_cache
from core.cli import main as cli_main
from core.errors import MissingWeightsError
from tests.samples import xcorr_peak

SR = 44100
SECONDS = 3.0
VOICE_SPANS = [(0.4, 1.2), (1.8, 2.5)]


def _signals():
    t = np.arange(int(SECONDS * SR)) / SR
    voice = np.zeros_like(t)
    for a, b in VOICE_SPANS:
        on = (t >= a) & (t < b)
        voice[on] = 0.3 * np.sin(2 * np.pi * 300 * t[on]) * np.hanning(on.sum())
    music = 0.3 * np.sin(2 * np.pi * 1000 * t) + 0.1 * np.sin(2 * np.pi * 1500 * t)
    return voice.astype(np.float32), music.astype(np.float32)


@pytest.fixture(scope="module")
def left_only_checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt_left_only")
    manifest.build_mdx_onnx(root / manifest.KIM_VOCAL_2, np.diag([1.0, 1.0, 0.0, 0.0]))
    return root


@pytest.fixture()
def song(tmp_path, left_only_checkpoints):
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(left_only_checkpoints)
    voice, music = _signals()
    path = tmp_path / "song.wav"
    sf.write(path, np.stack([voice, music], 1), SR, subtype="FLOAT")
    return path, voice, music


def test_test_checkpoint_has_kim_vocal_2_signature(tmp_path):
    root = weights.make_test_checkpoints(tmp_path / "ck", only=["audio"])
    session = ort.InferenceSession(str(root / manifest.KIM_VOCAL_2), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.shape[1:], inp.type) == ("input", [4, 3072, 256], "tensor(float)")
    assert (out.name, out.shape[1:], out.type) == ("output", [4, 3072, 256], "tensor(float)")
    assert manifest.FILES[0].local == manifest.KIM_VOCAL_2 and manifest.FILES[0].size == 66_759_214


def test_separation_real_path_stems_and_cache(song, tmp_path, left_only_checkpoints):
    path, voice, music = song
    ticks = []
    vocals_path, accompaniment_path, hit = separate_file(path, tmp_path / "out", ctx=lambda f, m: ticks.append(m))
    assert not hit and vocals_path.name == "vocals.wav" and accompaniment_path.name == "accompaniment.wav"
    assert any("window 4/4" in m for m in ticks)  # 2 vocal windows + 2 match-mix windows for 3 s
    vocals, rate = sf.read(vocals_path, dtype="float32", always_2d=True)
    accompaniment, _ = sf.read(accompaniment_path, dtype="float32", always_2d=True)
    assert rate == SR and vocals.shape == accompaniment.shape == (voice.size, 2)
    inner = slice(2048, -2048)
    np.testing.assert_allclose(vocals[inner, 0], voice[inner], atol=2e-3)
    assert np.max(np.abs(vocals[:, 1])) < 2e-3
    np.testing.assert_allclose(accompaniment[inner, 1], music[inner], atol=2e-3)
    np.testing.assert_allclose(accompaniment[inner, 0], -0.009 * voice[inner], atol=2e-3)

    loads = default_cache().loads
    _, _, hit = separate_file(path, tmp_path / "out2")
    assert hit and default_cache().loads == loads  # second call: cached stems, no reload, no separation
    _, _, hit = separate_file(path, tmp_path / "out3", start=0.5, end=2.5)
    assert not hit and default_cache().loads == loads  # new range separates again with the same loaded model
    model = str((left_only_checkpoints / manifest.KIM_VOCAL_2).resolve())
    assert len([k for k in default_cache().keys() if k[0] == "audio.vocal_separator" and k[3] == model]) == 1


def test_drive_with_vocals_keep_the_mix_muxed(song, tmp_path):
    from core.media import VideoWriter

    path, voice, music = song
    results = {}
    for keep in ("mix", "vocals"):
        prepared = prepare_audio(AudioOptions(audio=str(path), separate_vocals=True, keep_audio=keep))
        driving, rate = sf.read(prepared.driving_wav, dtype="float32")
        assert rate == 16000
        voice16 = np.interp(np.arange(driving.size) / 16000, np.arange(voice.size) / SR, voice)
        assert xcorr_peak(driving, voice16) > 0.99  # the engine hears the voice only
        # gaps in the voice are silent frames even though the music never stops
        spans = prepared.silent_spans()
        assert spans[0] == pytest.approx((0.0, 0.4), abs=0.08)
        assert any(abs(a - 1.2) <= 0.08 and abs(b - 1.8) <= 0.08 for a, b in spans)
        video = tmp_path / f"{keep}.mp4"
        frames = np.zeros((int(prepared.duration * 25), 64, 64, 3), np.uint8)
        with VideoWriter(video, fps=25, audio=prepared.output_audio) as writer:
            writer.write(frames)
        results[keep] = decode_audio(video)
    mixed, vocal = results["mix"], results["vocals"]
    assert mixed.channels == 2 and vocal.channels == 2
    left_src, right_src = (np.interp(np.arange(int(SECONDS * mixed.rate)) / mixed.rate, np.arange(voice.size) / SR, s)
                           for s in (voice, music))
    assert xcorr_peak(mixed.samples[:, 0], left_src) > 0.95 and xcorr_peak(mixed.samples[:, 1], right_src) > 0.95
    assert xcorr_peak(vocal.samples[:, 0], left_src) > 0.95
    assert np.sqrt(np.mean(vocal.samples[:, 1] ** 2)) < 0.01 * np.sqrt(np.mean(right_src ** 2))  # music is gone


def test_without_separation_the_music_fills_the_gaps(song):
    path, _, _ = song
    prepared = prepare_audio(AudioOptions(audio=str(path)))
    assert not prepared.silence.any() and prepared.vocals_wav is None


def test_missing_model_names_the_file_and_command(tmp_path):
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(tmp_path / "empty")
    voice, music = _signals()
    sf.write(tmp_path / "s.wav", np.stack([voice, music], 1), SR)
    with pytest.raises(MissingWeightsError) as info:
        prepare_audio(AudioOptions(audio=str(tmp_path / "s.wav"), separate_vocals=True))
    assert manifest.KIM_VOCAL_2 in str(info.value) and "download_weights.py --engine audio" in str(info.value)


def test_cli_separate(song, tmp_path, left_only_checkpoints, capsys):
    path, voice, _ = song
    code = cli_main(["separate", "--audio", str(path), "--out-dir", str(tmp_path / "cli"),
                     "--checkpoints", str(left_only_checkpoints), "--start", "0.5", "--end", "2.0"])
    assert code == 0
    vocals, _ = sf.read(tmp_path / "cli" / "vocals.wav", dtype="float32", always_2d=True)
    assert vocals.shape[0] == int(1.5 * SR)
    np.testing.assert_allclose(vocals[2048:-2048, 0], voice[int(0.5 * SR) + 2048:int(2.0 * SR) - 2048], atol=2e-3)
    assert cli_main(["separate", "--audio", str(path), "--out-dir", str(tmp_path / "x"),
                     "--checkpoints", str(tmp_path / "none")]) == 3
    assert cli_main(["separate", "--audio", str(tmp_path / "nope.wav"), "--out-dir", str(tmp_path / "x"),
                     "--checkpoints", str(left_only_checkpoints)]) == 2


def test_unofficial_model_file_is_flagged(song):
    path, _, _ = song
    prepared = prepare_audio(AudioOptions(audio=str(path), separate_vocals=True))
    assert any("not the official Kim_Vocal_2 file" in w for w in prepared.warnings)


def test_inside_a_job_timings_and_cancellation(song):
    import threading

    from core.errors import JobCancelled
    from core.jobs import run_job

    path, _, _ = song

    def engine(options, ctx):
        prepared = prepare_audio(options, ctx, span=(0.0, 0.5))
        return ctx.result(prepared.output_audio)

    result = run_job("audio", engine, AudioOptions(audio=str(path), separate_vocals=True))
    assert result.timings["separate_vocals"] > 0 and result.timings["decode_audio"] > 0
    assert any("not the official Kim_Vocal_2" in w for w in result.warnings)

    cancel = threading.Event()

    def progress(fraction, message):
        if "window 1/" in message:
            cancel.set()  # the creator presses Cancel while the separator runs

    with pytest.raises(JobCancelled):
        run_job("audio", engine, AudioOptions(audio=str(path), start=0.5, separate_vocals=True), progress, cancel)


def test_cli_prepare_audio(song, tmp_path, left_only_checkpoints):
    import json

    path, voice, _ = song
    code = cli_main(["prepare-audio", "--audio", str(path), "--out-dir", str(tmp_path / "p"), "--separate-vocals",
                     "--keep-audio", "mix", "--normalize", "peak", "--checkpoints", str(left_only_checkpoints)])
    assert code == 0
    driving, rate = sf.read(tmp_path / "p" / "driving.wav", dtype="float32")
    assert rate == 16000 and np.max(np.abs(driving)) == pytest.approx(10 ** (-1 / 20), rel=1e-3)
    spans = json.loads((tmp_path / "p" / "silence.json").read_text())["silent_spans"]
    assert spans[0] == pytest.approx([0.0, 0.4], abs=0.08)
    out, out_rate = sf.read(tmp_path / "p" / "output_audio.wav", dtype="float32", always_2d=True)
    assert out_rate == SR and out.shape == (voice.size, 2)
