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

    from ui.tabs.portrait import build, make_request

    with gr.Blocks():
        form = build()
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x")
    audio_values = {"audio": str(audio), "start": 0.5, "end": 2.0, "separate_vocals": False, "keep_audio": "mix",
                    "keep_file": None, "normalize": "none"}
    values = {"image": "photo.png", **audio_values, "emotion": "surprise", "cfg_scale": 1.5, "steps": 12, "seed": 7,
              "smoothing": 5, "head_motion": 0.5, "crop_scale": 2.5, "pasteback": False, "face": 1,
              "box": "1,2,30,40", "max_side": 1920, "render_batch": 16, "crf": 20, "device": "cpu", "dtype": "fp32"}
    req = make_request(form, values)
    assert req == PortraitRequest(image="photo.png", audio=AudioOptions(str(audio), start=0.5, end=2.0),
                                  emotion="surprise", cfg_scale=1.5, steps=12, seed=7, smoothing=5, head_motion=0.5,
                                  crop_scale=2.5, pasteback=False, box=[1.0, 2.0, 30.0, 40.0], max_side=1920,
                                  render_batch=16, crf=20, device="cpu", dtype="fp32")
    face = make_request(form, {**values, "box": ""})
    assert face.face == 1 and face.box is None
    strong = make_request(form, {**values, "emotion": "happiness", "emotion_strength": 2.5, "face": -1, "box": ""})
    assert (strong.emotion, strong.emotion_strength, strong.face) == ("happiness", 2.5, None)
    clicked = make_request(form, {**values, "face": 0, "box": "", "point": "230,131"})
    assert (clicked.point, clicked.face, clicked.box) == ([230.0, 131.0], None, None)  # a click beats the number
    defaults = make_request(form, {"image": "photo.png", **audio_values})  # an API client leaving the rest out
    assert defaults == PortraitRequest(image="photo.png", audio=AudioOptions(str(audio), start=0.5, end=2.0))
    with pytest.raises(gr.Error):
        make_request(form, {**values, "image": None})
    # shown by run_action
    with pytest.raises(BadInputError, match="bad face box '1,2': expected 4 numbers x1,y1,x2,y2"):
        make_request(form, {**values, "box": "1,2"})


def test_a_click_picks_a_face_or_starts_a_box():
    """Where faces were detected a click is the point under it; where none was, a click cannot pick one, so it
    starts a box around it (in the file's pixels, inside the picture)."""
    from ui.tabparts import BOX_SHARE, click_to_face

    assert click_to_face((100, 50), (1024, 512), (512, 256), True) == ("200,100", "")
    half = BOX_SHARE * 512 / 2
    assert click_to_face((256, 128), (1024, 512), (512, 256), False) == \
        ("", f"{round(512 - half)},{round(256 - half)},{round(512 + half)},{round(256 + half)}")
    assert click_to_face((0, 0), (1024, 512), (512, 256), False) == ("", f"0,0,{round(2 * half)},{round(2 * half)}")


def test_cli_emotion_strength_and_timeline_reach_the_motion_settings(tmp_path):
    """`portrait --emotion-strength` sets the extra emotion guidance; `--timeline FILE.yaml` gives each MoDA chunk
    its own emotion and strength (the generator's per-chunk path, shared with the expression engine)."""
    from core import engine
    from core.cli import build_parser, request_from_args
    from core.moda import motion as M

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x")
    (tmp_path / "tl.yaml").write_text("segments:\n  - {start: 0, end: 3, emotion: happiness, strength: 2}\n"
                                      "  - {start: 3, emotion: sadness, strength: 4}\ncrossfade: 8\n")
    from tests.samples import portrait_path

    photo = str(portrait_path())
    parser = build_parser()
    args = parser.parse_args(["portrait", "--image", photo, "--audio", str(audio), "--emotion", "anger",
                              "--emotion-strength", "1.5", "--out", str(tmp_path / "o.mp4")])
    one = request_from_args(engine.get("portrait"), args).validate()
    settings = one.motion_settings()
    assert (settings.emotion, settings.emotion_scale) == (M.emotion_id("anger"), 1.5) and one.emotion_timeline() is None
    args = parser.parse_args(["portrait", "--image", photo, "--audio", str(audio), "--timeline",
                              str(tmp_path / "tl.yaml"), "--out", str(tmp_path / "o.mp4")])
    timed = request_from_args(engine.get("portrait"), args).validate()
    timeline = timed.emotion_timeline()
    assert timeline.crossfade == 8
    # chunks of 80 frames, stride 64 (2.56 s): 0-3.2 s mostly happy, then sad
    assert timeline.chunk_conditions(200, 25) == [(M.emotion_id("happiness"), 2.0), (M.emotion_id("sadness"), 4.0),
                                                  (M.emotion_id("sadness"), 4.0)]
    with pytest.raises(BadInputError, match="give one emotion or a timeline, not both"):
        PortraitRequest(image=photo, audio=AudioOptions(str(audio)), emotion="fear",
                        timeline=[{"start": 0, "end": 1, "emotion": "fear"}]).validate()
