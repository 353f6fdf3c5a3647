"""The shared Audio panel: layout in any tab, its endpoints, and its handlers calling core.audio."""
import os
import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from core.audio.options import AudioOptions
from core.audio.preview import SILENT, WAVE, waveform_image
from core.errors import BadInputError
from ui import audio_panel as ap


class _Progress:
    def __init__(self):
        self.calls = []

    def __call__(self, fraction, desc=None):
        self.calls.append((fraction, desc))


def _bursts(path, sr=16000):
    t = np.arange(2 * sr) / sr
    x = np.where((t > 0.6) & (t < 1.4), 0.3 * np.sin(2 * np.pi * 250 * t), 0.0).astype(np.float32)
    sf.write(path, x, sr)
    return path


def test_two_tabs_share_one_separate_endpoint():
    with gr.Blocks() as demo:
        with gr.Tab("A"):
            first = ap.audio_panel("lipdub")
        with gr.Tab("B"):
            ap.audio_panel("portrait")
    names = [d.get("api_name") for d in demo.config["dependencies"]
             if d.get("api_visibility", "public") == "public"]
    assert names.count("separate") == 1
    assert {"lipdub_prepare_audio", "portrait_prepare_audio"} <= set(names)
    assert len(first.inputs) == 9 and set(first.fields) <= set(AudioOptions.__dataclass_fields__)


def test_options_from_values():
    opts = ap.options_from_values("a.wav", 0, None, True, "vocals", None, "peak")
    assert opts == AudioOptions(audio="a.wav", separate_vocals=True, keep_audio="vocals", normalize="peak",
                                device=opts.device)
    assert ap.options_from_values("a.wav", 1.5, 3, False, "file", "m.wav", "none").keep_audio == "m.wav"
    with pytest.raises(BadInputError, match="no driving audio"):
        ap.options_from_values(None, 0, None, False, "mix", None, "none")
    with pytest.raises(BadInputError, match="no file was given"):
        ap.options_from_values("a.wav", 0, None, False, "file", None, "none")


def test_preview_shows_driving_audio_and_silent_spans(tmp_path):
    path = _bursts(tmp_path / "v.wav")
    progress = _Progress()
    wav, picture, summary = ap.preview(str(path), 0, None, False, "mix", None, "none", progress=progress)
    assert sf.info(wav).samplerate == 16000 and picture.shape == (120, 800, 3)
    assert "Silent: 0.00–0.60 s, 1.40–2.00 s" in summary
    assert progress.calls[-1][0] == 1.0
    assert ap._fill_end(str(path)) == pytest.approx(2.0, abs=0.01)


def test_waveform_image_shades_silence():
    silence = np.array([True] * 25 + [False] * 25)
    samples = np.concatenate([np.zeros(16000), 0.5 * np.sin(np.arange(16000) * 0.3)]).astype(np.float32)
    img = waveform_image(samples, silence, width=100, height=40)
    assert tuple(img[2, 10]) == SILENT and tuple(img[2, 90]) != SILENT
    assert (img[:, 90] == WAVE).all(axis=1).sum() > 20  # a loud column draws a tall stroke


def test_separate_endpoint_writes_stems(tmp_path, test_checkpoints):
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(test_checkpoints)
    path = _bursts(tmp_path / "v.wav")
    vocals, accompaniment = ap.separate(str(path), 0, None, progress=_Progress())
    for stem in (vocals, accompaniment):
        info = sf.info(stem)
        assert info.samplerate == 44100 and abs(info.duration - 2.0) < 1e-3


def test_separate_api_through_a_running_app(tmp_path, test_checkpoints):
    import socket

    from gradio_client import Client, handle_file

    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(test_checkpoints)
    path = _bursts(tmp_path / "v.wav")
    with gr.Blocks(analytics_enabled=False) as demo:
        ap.audio_panel("t")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        vocals, accompaniment = client.predict(handle_file(str(path)), 0, None, api_name="/separate")
        assert sf.info(vocals).samplerate == 44100 and abs(sf.info(accompaniment).duration - 2.0) < 1e-3
        with pytest.raises(Exception, match="no audio to separate"):
            client.predict(None, 0, None, api_name="/separate")
    finally:
        demo.close()


def test_speech_map_picture_for_an_upload(tmp_path):
    from core.audio import dsp
    from core.audio.preview import REST_MARK, SPEECH
    from tests.samples import speech_wav

    x, rate = sf.read(str(speech_wav(tmp_path / "s.wav", "Hello there")), dtype="float32")
    x = dsp.resample(x, rate, 16000)
    path = tmp_path / "talk.wav"
    sf.write(path, np.concatenate([np.zeros(16000, np.float32), x]), 16000)  # 1 s of silence, then speech
    picture, line = ap.speech_map(str(path), 0, None, "on", 0.25)
    assert picture.shape == (120, 800, 3)
    seconds = 1 + len(x) / 16000
    rest_col, speech_col = int(0.5 / seconds * 800), int(1.6 / seconds * 800)
    assert tuple(picture[-1, rest_col]) == REST_MARK and tuple(picture[2, speech_col]) == SPEECH
    assert line.startswith("The face rests at 0.00–1.0")
    assert ap.speech_map(str(path), 0, None, "off", 0.25)[1] == "Rest is off: every frame follows the audio."
    music = _bursts(tmp_path / "tone.wav")
    assert ap.speech_map(str(music), 0, None, "on", 0.25)[1].startswith("**No speech found**")
    assert ap.speech_map(None, 0, None, "on", 0.25) == (None, "")
    with pytest.raises(BadInputError, match="Minimum pause must be 0.04..2"):
        ap.speech_map(str(path), 0, None, "on", 9)
    lipdub = ap.options_from_values("a.wav", 0, None, False, "mix", None, "none", "source", 0.5)
    assert (lipdub.rest, lipdub.rest_min_pause) == ("source", 0.5)
    assert ap._rest_modes("lipdub") == ("on", "off", "source") and ap._rest_modes("portrait") == ("on", "off")


def test_prepared_preview_names_the_rest_stretches(tmp_path):
    path = _bursts(tmp_path / "v.wav")
    summary = ap.preview(str(path), 0, None, False, "mix", None, "none", "on", 0.25, progress=_Progress())[2]
    assert summary.endswith(" Rest: 0.00–2.00 s.")  # a tone is no speech: the face would rest throughout
    assert "Rest:" not in ap.preview(str(path), 0, None, False, "mix", None, "none", "off", 0.25,
                                     progress=_Progress())[2]
