"""The "Infinite avatar" tab: builds with stable API names, labels memory modes with VRAM, maps values onto the request."""
import gradio as gr
import pytest

from core.audio.options import AudioOptions
from core.engines.avatar.request import AvatarRequest


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
