"""The "Animate a photo" tab: builds inside the studio with stable API names and maps its values onto the request."""
import pytest

from core.audio.options import AudioOptions
from core.engines.portrait import PortraitRequest
from core.errors import BadInputError


def test_tab_registers_portrait_endpoints(test_checkpoints):
    from ui.app import build_app

    demo = build_app(test_checkpoints)
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"portrait", "portrait_preview", "portrait_save_preset", "portrait_load_preset"} <= names


def test_values_map_onto_the_request(tmp_path):
    import gradio as gr

    from ui.tabs.portrait import make_request

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x")
    audio_values = (str(audio), 0.5, 2.0, False, "mix", None, "none")
    req = make_request("photo.png", audio_values, "surprise", 1.5, 12, 7, 5, 0.5, 2.5, False, 1, "1,2,30,40", 1920,
                       16, 20, "cpu", "fp32")
    assert req == PortraitRequest(image="photo.png", audio=AudioOptions(str(audio), start=0.5, end=2.0),
                                  emotion="surprise", cfg_scale=1.5, steps=12, seed=7, smoothing=5, head_motion=0.5,
                                  crop_scale=2.5, pasteback=False, box=[1.0, 2.0, 30.0, 40.0], max_side=1920,
                                  render_batch=16, crf=20, device="cpu", dtype="fp32")
    face = make_request("photo.png", audio_values, "none", 1.2, 10, 0, 3, 1.0, 2.3, True, 1, "", 0, 0, 18, "auto",
                        "auto")
    assert face.face == 1 and face.box is None
    with pytest.raises(gr.Error):
        make_request(None, audio_values, "none", 1.2, 10, 0, 3, 1.0, 2.3, True, 0, "", 0, 25, 18, "auto", "auto")
    with pytest.raises(BadInputError, match="bad face box '1,2': expected 4 numbers x1,y1,x2,y2"):  # shown by run_action
        make_request("p.png", audio_values, "none", 1.2, 10, 0, 3, 1.0, 2.3, True, 0, "1,2", 0, 25, 18, "cpu", "fp32")
