"""The "Expression control" tab: builds inside the studio with stable API names; its values (sliders, tables,
photo/video choice) map onto the request."""
import pytest

from core.audio.options import AudioOptions
from core.engines.expression import ExpressionRequest
from core.errors import BadInputError
from core.liveportrait.expression import SLIDERS


def test_tab_registers_expression_endpoints(test_checkpoints):
    from ui.app import build_app

    demo = build_app(test_checkpoints)
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"expression", "expression_preview", "expression_save_preset", "expression_load_preset"} <= names
    labels = {c.get("props", {}).get("label") for c in demo.config["components"]}
    assert {"Expression control", "Live preview (face crop, render only)"} <= labels | {
        c.get("props", {}).get("label") for c in demo.config["components"] if c.get("type") == "tabitem"}


def _controls(**over):
    from ui.tabs.expression import CONTROLS

    base = {"timeline": None, "crossfade": 16, "keyframes": None, "blink_rate": 0, "source_ratio": 1.0,
            "eyes_open": None, "lip_open": None, "transfer_image": None, "transfer_parts": "expression",
            "transfer_ratio": 1.0, "head_motion": 1.0, "cfg_scale": 1.2, "steps": 10, "seed": 0, "smoothing": 3,
            "crop_scale": 2.3, "face": -1, "box": "", "render_batch": 0, "crf": 18, "device": "cpu",
            "dtype": "fp32"}
    assert set(base) == set(CONTROLS)
    return {**base, **over}


def test_values_map_onto_the_request(tmp_path):
    import gradio as gr
    import pandas as pd

    from ui.tabs.expression import make_request

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x")
    audio_values = [str(audio), 0.0, None, False, "mix", None, "none"]
    sliders = [0.0] * len(SLIDERS)
    names = [s.name for s in SLIDERS]
    sliders[names.index("smile")], sliders[names.index("yaw")] = 0.6, 10.0
    timeline = pd.DataFrame([[0.0, 2.5, "happiness", 2.0], [None, None, None, None]],
                            columns=["start", "end", "emotion", "strength"])
    keyframes = [[0.0, "linear", "smile=0"], [1.5, "ease-in-out", "smile=1, wink=20"]]
    req = make_request("Photo", "p.png", None, audio_values, sliders,
                       _controls(timeline=timeline, keyframes=keyframes, eyes_open=0.3, box="1,2,30,40"))
    assert req == ExpressionRequest(
        image="p.png", audio=AudioOptions(str(audio)), edits={"smile": 0.6, "yaw": 10.0},
        timeline=[{"start": 0.0, "end": 2.5, "emotion": "happiness", "strength": 2.0}],
        keyframes=[{"time": 0.0, "easing": "linear", "smile": 0.0},
                   {"time": 1.5, "easing": "ease-in-out", "smile": 1.0, "wink": 20.0}],
        eyes_open=0.3, box=[1.0, 2.0, 30.0, 40.0], device="cpu", dtype="fp32")
    video = make_request("Video", "p.png", "clip.mp4", audio_values, [0.0] * len(SLIDERS), _controls(face=1))
    assert video.video == "clip.mp4" and video.image is None and video.audio is None and video.face == 1
    with pytest.raises(gr.Error):
        make_request("Video", "p.png", None, audio_values, sliders, _controls())
    with pytest.raises(BadInputError, match="write name=value"):
        make_request("Photo", "p.png", None, audio_values, sliders, _controls(keyframes=[[1.0, "linear", "smile"]]))
