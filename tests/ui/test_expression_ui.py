"""The "Expression control" tab: builds inside the studio with stable API names; its values (sliders, tables,
photo/video choice) map onto the request."""
import pytest

from core.audio.options import AudioOptions
from core.engines.expression import ExpressionRequest
from core.errors import BadInputError
from core.liveportrait.expression import SLIDERS


def test_tab_registers_expression_endpoints():
    import gradio as gr

    from ui.tabs.expression import build

    with gr.Blocks() as demo:
        build()
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"expression", "expression_preview", "expression_save_preset", "expression_load_preset"} <= names
    labels = {c.get("props", {}).get("label") for c in demo.config["components"]}
    assert {"Live preview (face crop, render only)", "smile", "head yaw (deg)", "Transfer from photo"} <= labels


def test_values_map_onto_the_request(tmp_path):
    import gradio as gr
    import pandas as pd

    from ui.tabs.expression import build, make_request

    with gr.Blocks():
        form = build()
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x")
    audio_values = {"audio": str(audio), "start": 0.0, "end": None, "separate_vocals": False, "keep_audio": "mix",
                    "keep_file": None, "normalize": "none"}
    sliders = {s.name: 0.0 for s in SLIDERS} | {"smile": 0.6, "yaw": 10.0}
    timeline = pd.DataFrame([[0.0, 2.5, "happiness", 2.0], [None, None, None, None]],
                            columns=["start", "end", "emotion", "strength"])
    keyframes = [[0.0, "linear", "smile=0"], [1.5, "ease-in-out", "smile=1, wink=20"]]
    base = {"media": "Photo", "image": "p.png", "video": None, **audio_values, "device": "cpu", "dtype": "fp32"}
    req = make_request(form, {**base, **sliders, "timeline": timeline, "keyframes": keyframes,
                              "eyes_open_ratio": 0.3, "box": "1,2,30,40", "face": -1})
    assert req == ExpressionRequest(
        image="p.png", audio=AudioOptions(str(audio)), edits={"smile": 0.6, "yaw": 10.0},
        timeline=[{"start": 0.0, "end": 2.5, "emotion": "happiness", "strength": 2.0}],
        keyframes=[{"time": 0.0, "easing": "linear", "smile": 0.0},
                   {"time": 1.5, "easing": "ease-in-out", "smile": 1.0, "wink": 20.0}],
        eyes_open_ratio=0.3, box=[1.0, 2.0, 30.0, 40.0], device="cpu", dtype="fp32")
    video = make_request(form, {**base, "media": "Video", "video": "clip.mp4", "face": 1})
    assert video.video == "clip.mp4" and video.image is None and video.audio is None and video.face == 1
    with pytest.raises(gr.Error):
        make_request(form, {**base, "media": "Video"})
    with pytest.raises(BadInputError, match="write name=value"):
        make_request(form, {**base, "keyframes": [[1.0, "linear", "smile"]]})


def test_api_preview_and_still_generate_through_the_studio(tmp_path_factory, test_checkpoints):
    """`python app.py` on tiny random weights; gradio_client calls /expression_preview and /expression by name."""
    import numpy as np
    from gradio_client import Client, handle_file
    from PIL import Image

    from tests.appserver import running_app
    from tests.samples import portrait_path

    base = tmp_path_factory.mktemp("expr_api")
    with running_app(base, test_checkpoints) as url:
        client = Client(url, verbose=False, download_files=str(base / "downloads"))
        args = {"media": "Photo", "image": handle_file(str(portrait_path())), "box": "185,70,275,185",
                "smile": 0.8, "yaw": 10, "device": "cpu", "dtype": "fp32"}
        live = client.predict(**args, api_name="/expression_preview")
        assert Image.open(live).size == (512, 512)
        photo, video, timings = client.predict(**args, api_name="/expression")
        assert video is None and "render" in timings
        assert np.asarray(Image.open(photo)).shape == np.asarray(Image.open(portrait_path())).shape
