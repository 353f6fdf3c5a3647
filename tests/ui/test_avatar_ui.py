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
    assert list(labels) == ["auto", "full", "offload", "fp8", "sequential", "low"]  # the request's choices
    assert all(" GB" in labels[mode] for mode in ("full", "offload", "fp8", "sequential"))


def test_values_map_onto_the_request(tmp_path):
    from ui.tabs.avatar import build, make_request

    with gr.Blocks():
        form = build()
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x")
    audio_values = {"audio": str(audio), "start": 0.5, "end": 2.0, "separate_vocals": False, "keep_audio": "mix",
                    "keep_file": None, "normalize": "none"}
    values = {"image": "photo.png", **audio_values, "prompt": "a man speaking", "negative_prompt": "blurry",
              "size": "480x832", "steps": 10, "text_guidance": 4.0, "audio_guidance": 6.0, "overlap": 3, "seed": 7,
              "memory": "fp8", "colour_correction": 0.5, "crf": 20, "device": "cpu", "dtype": "fp32"}
    req = make_request(form, values)
    assert req == AvatarRequest(image="photo.png", audio=AudioOptions(str(audio), start=0.5, end=2.0),
                                prompt="a man speaking", negative_prompt="blurry", size="480x832", steps=10,
                                text_guidance=4.0, audio_guidance=6.0, overlap=3, seed=7, memory="fp8",
                                colour_correction=0.5, crf=20, device="cpu", dtype="fp32")
    defaults = make_request(form, {"image": "photo.png", **audio_values})  # an API client leaving the rest out
    assert defaults == AvatarRequest(image="photo.png", audio=AudioOptions(str(audio), start=0.5, end=2.0))
    with pytest.raises(gr.Error):
        make_request(form, {**values, "image": None})


def test_preview_label_and_cpu_time_say_what_a_click_costs(test_checkpoints, tmp_path):
    """The Preview button names what it renders; on the CPU the tab says how long the denoising takes, from the
    DiT file in use (the tiny test weights here) and this CPU's measured rate."""
    from core.engines.avatar import cost
    from tests.samples import make_tone
    from ui.tabs.avatar import preview_label

    assert (preview_label(25), preview_label(4)) == ("Preview 3.2 s, 10 steps", "Preview 3.2 s, 4 steps")
    params, width, blocks = cost.dit_shape(test_checkpoints)
    assert (width, blocks) == (128, 2) and 0 < params < cost.OFFICIAL[0] / 1000
    small = cost.denoise_flops((params, width, blocks), 512, 512, 3.24, 10, 5, preview=True)
    tokens = 21 * 32 * 32
    assert small == pytest.approx(10 * 3 * tokens * (2 * params + 4 * blocks * tokens * width))
    # a 10 s clip (several windows): twice the steps, twice the time
    whole = cost.denoise_flops((params, width, blocks), 512, 512, 10.0, 20, 5)
    assert whole == pytest.approx(2 * cost.denoise_flops((params, width, blocks), 512, 512, 10.0, 10, 5))
    audio = make_tone(tmp_path / "ten.wav", seconds=10.0)
    note = cost.cpu_note("cpu", (512, 512), 20, 5, str(audio), 0, None, test_checkpoints)
    rate = cost.cpu_flops()
    assert small / rate >= 0.5 and whole / rate >= 0.5  # 21,504 tokens a window: seconds even for tiny weights
    assert note == (f"On this CPU, denoising only: Preview ≈ {cost.format_seconds(small / rate)} · "
                    f"Generate ≈ {cost.format_seconds(whole / rate)} (10.0 s, 20 steps)")
    assert cost.cpu_note("cuda", (512, 512), 20, 5, str(audio), 0, None, test_checkpoints) == ""  # a GPU, or none


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
