"""The "Infinite avatar" tab: builds with stable API names, labels memory modes with VRAM, maps values onto the
request."""
import gradio as gr
import pytest

from core.audio.options import AudioOptions
from core.engines.avatar.request import AvatarRequest

pytest_plugins = ["tests.avatar_support"]


def test_tab_registers_avatar_endpoints():
    from ui.tabs import avatar

    with gr.Blocks() as demo:
        avatar.build()
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"avatar", "avatar_preview", "avatar_prepare_audio"} <= names


def test_memory_modes_show_estimates():
    from ui.tabs.avatar import memory_choices

    labels = {v: k for k, v in memory_choices("480x832")}
    assert set(labels) == {"full", "offload", "fp8", "sequential"}
    assert all(" GB" in label for label in labels.values())


def test_values_map_onto_the_request(tmp_path):
    from ui.tabs.avatar import make_request

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x")
    audio_values = (str(audio), 0.5, 2.0, False, "mix", None, "none")
    req = make_request("photo.png", audio_values, "a man speaking", "blurry", "480x832", 10, 4.0, 6.0, 3, 7, "fp8",
                       0.5, 20, "cpu", "fp32")
    assert req == AvatarRequest(image="photo.png", audio=AudioOptions(str(audio), start=0.5, end=2.0),
                                prompt="a man speaking", negative_prompt="blurry", size="480x832", steps=10,
                                text_guidance=4.0, audio_guidance=6.0, overlap=3, seed=7, memory="fp8",
                                colour_correction=0.5, crf=20, device="cpu", dtype="fp32")
    with pytest.raises(gr.Error):
        make_request(None, audio_values, "", "", "512x512", 25, 3, 5, 5, 0, "full", 0, 18, "auto", "auto")


def test_preview_and_generate_through_the_api(tmp_path_factory, avatar_checkpoints):
    """`python app.py` on the tiny weights; a creator's calls through gradio_client with keyword arguments."""
    import numpy as np
    import soundfile as sf
    from gradio_client import Client, handle_file
    from PIL import Image

    from core.media import probe
    from tests.appserver import running_app
    from tests.samples import portrait_path

    base = tmp_path_factory.mktemp("avatar_ui")
    t = np.arange(int(16000 * 0.6)) / 16000
    sf.write(base / "voice.wav", (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000)
    args = {"image": handle_file(str(portrait_path())), "audio": handle_file(str(base / "voice.wav")), "rest": "off",
            "size": "64x48", "steps": 2, "device": "cpu", "dtype": "fp32"}
    with running_app(base, avatar_checkpoints) as url:
        client = Client(url, verbose=False, download_files=str(base / "downloads"))
        still, clip = client.predict(**args, api_name="/avatar_preview")
        assert Image.open(still).size == (64, 48)
        assert abs(probe(clip).duration - 0.6) <= 0.04
        video, status = client.predict(**args, api_name="/avatar")
        info = probe(video)
        assert (info.width, info.height) == (64, 48) and info.has_audio and abs(info.duration - 0.6) <= 0.04
        assert "denoise" in status
        with pytest.raises(Exception, match="^size 500x500: width and height must be multiples of 16"):
            client.predict(**{**args, "size": "500x500"}, api_name="/avatar")


def test_on_a_zerogpu_space_each_gpu_call_is_its_own_allocation(monkeypatch):
    """With the `spaces` package present, the avatar's GPU calls go through spaces.GPU (a declared duration each,
    80 % of it used per call); without it they run here."""
    import importlib.machinery
    import sys
    import types

    from core.jobs import run_here
    from ui import components

    assert components.gpu_calls() == {}
    declared = []
    spaces = types.ModuleType("spaces")
    spaces.__spec__ = importlib.machinery.ModuleSpec("spaces", None)
    spaces.GPU = lambda duration: (lambda fn: declared.append((duration, fn)) or fn)
    monkeypatch.setitem(sys.modules, "spaces", spaces)
    options = components.gpu_calls()
    assert declared == [(components.ZERO_GPU_CALL_S, run_here)] and options["gpu_call"] is run_here
    assert options["gpu_budget_s"] == 0.8 * components.ZERO_GPU_CALL_S
