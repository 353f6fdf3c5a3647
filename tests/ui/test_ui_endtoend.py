"""A creator's whole path through the running studio: `python app.py` on tiny random weights, then the Gradio API
(gradio_client + handle_file) for lip-dub and photo animation, previews included; a bad input answers with one line
and the studio serves the next call."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.media import probe
from tests.appserver import running_app
from tests.samples import make_tone, make_video, portrait_path, talking_clip

ROOT = Path(__file__).resolve().parents[2]
FRAME = 0.04  # one frame at 25 fps
LIPDUB_BOX = "32,24,96,112"  # x1,y1,x2,y2 on the 128x128 clip (random weights cannot detect faces)
PORTRAIT_BOX = "185,70,275,185"  # the astronaut's face


@pytest.fixture(scope="module")
def client(tmp_path_factory, test_checkpoints):
    """`python app.py --checkpoints <tiny random weights>` on a free port, and a gradio_client attached to it."""
    from gradio_client import Client

    base = tmp_path_factory.mktemp("ui_e2e")
    with running_app(base, test_checkpoints) as url:
        yield Client(url, verbose=False, download_files=str(base / "downloads"))


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("ui_e2e_media")
    return {
        "clip": talking_clip(d / "clip.mp4", seconds=0.4, size=(128, 128)),  # 10 frames, looped to the audio
        "voice": make_tone(d / "voice.wav", seconds=0.8, hz=220.0),
        "short": make_tone(d / "short.wav", seconds=0.6, hz=180.0),
        "silent": make_video(d / "silent.mp4", seconds=0.5, tone_hz=None),  # a video with no audio stream
    }


def _lipdub_args(video, audio, **overrides) -> dict:
    """Keywords a creator would pass: the files, a manual box, small batches; every other input keeps its default."""
    from gradio_client import handle_file

    args = {"video": handle_file(str(video)), "audio": handle_file(str(audio)), "box": LIPDUB_BOX, "batch_size": 4,
            "rest": "off",
            "device": "cpu", "dtype": "fp32"}
    return {**args, **overrides}


def _portrait_args(image, audio) -> dict:
    from gradio_client import handle_file

    return {"image": handle_file(str(image)), "audio": handle_file(str(audio)), "box": PORTRAIT_BOX, "steps": 2,
            "rest": "off",
            "render_batch": 4, "device": "cpu", "dtype": "fp32"}


def _assert_video(path, size, seconds):
    assert Path(path).is_file(), path
    info = probe(path)
    assert info.kind == "video" and (info.width, info.height) == size
    assert abs(info.fps - 25) < 1e-3
    assert abs(info.duration - seconds) <= FRAME + 1e-6 and abs(info.video_duration - seconds) <= FRAME + 1e-6
    assert info.has_audio


def test_lipdub_preview_and_generate(client, media):
    overlay, dubbed, hint = client.predict(**_lipdub_args(media["clip"], media["voice"]), api_name="/lipdub_preview")
    for picture in (overlay, dubbed):
        assert np.asarray(Image.open(picture).convert("RGB")).shape == (128, 128, 3)
    assert hint == "Suggested bbox_shift range: n/a (manual box)"

    video, timings, _hint = client.predict(**_lipdub_args(media["clip"], media["voice"]), api_name="/lipdub")
    _assert_video(video, (128, 128), 0.8)
    assert timings


def test_portrait_preview_and_generate(client, media):
    crop, first = client.predict(**_portrait_args(portrait_path(), media["short"]), api_name="/portrait_preview")
    assert Image.open(crop).size == (512, 512)  # the 512x512 face crop the renderer sees
    assert Image.open(first).size == (512, 512)  # the photo's size, pasted back

    video, timings = client.predict(**_portrait_args(portrait_path(), media["short"]), api_name="/portrait")
    _assert_video(video, (512, 512), 0.6)
    assert "real-time factor" in timings


@pytest.mark.parametrize("bad, message", [
    ("audio", "silent.mp4 has no audio stream"),  # a video without an audio stream as the driving audio
    ("box", "box 10,10,500,90 lies outside the 128x128 frame of clip.mp4"),  # a manual box past the 128x128 frame
])
def test_bad_input_is_one_line_and_the_studio_keeps_serving(client, media, bad, message):
    args = _lipdub_args(media["clip"], media["silent"] if bad == "audio" else media["voice"])
    if bad == "box":
        args["box"] = "10,10,500,90"
    with pytest.raises(Exception) as failure:
        client.predict(**args, api_name="/lipdub")
    text = str(failure.value)
    assert text == message  # the one line, no traceback

    overlay, _dubbed, _hint = client.predict(**_lipdub_args(media["clip"], media["voice"]),
                                             api_name="/lipdub_preview")
    assert Image.open(overlay).size == (128, 128)
