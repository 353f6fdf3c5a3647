"""Issue 16, bad input through every door, expression engine: slider values range-checked with the slider's own
range and label, timelines that are a mapping without segments / a binary file / a non-numeric cell refused in one
line (CLI and request), no HTML-special characters in those messages, and a box in a big photo's own pixels mapped
to the working size."""
import os

import cv2
import numpy as np
import pytest

from core.cli import main
from core.engines.expression import pipeline, spec
from core.engines.expression.request import ExpressionRequest
from core.errors import BadInputError
from core.jobs import run_job
from tests.samples import portrait_path

BOX = [185, 70, 275, 185]  # the astronaut's face in the 512x512 photo


@pytest.fixture(scope="module")
def photo() -> str:
    return str(portrait_path())


def _cli_error(capsys, *argv) -> str:
    """Run the CLI; it must refuse with exit 2 and exactly one stderr line."""
    assert main(["expression", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("edit, message", [
    ("smile=50", "face edit smile=50 is outside the 'smile' slider's range -0.3..1.3"),
    ("aaa=-31", "face edit aaa=-31 is outside the 'aaa (open jaw)' slider's range -30..120"),
    ("yaw=20.5", "face edit yaw=20.5 is outside the 'head yaw (deg)' slider's range -20..20"),
    ("smile=nan", "face edit smile=nan is outside the 'smile' slider's range -0.3..1.3"),
])
def test_edit_values_out_of_the_sliders_range_are_refused_by_cli_and_request(photo, tmp_path, capsys, edit, message):
    assert _cli_error(capsys, "--image", photo, "--edit", edit, "--out", str(tmp_path / "o.png")) == f"error: {message}"
    name, value = edit.split("=")
    with pytest.raises(BadInputError) as refused:
        ExpressionRequest(image=photo, edits={name: float(value)}).validate()
    assert str(refused.value) == message
    assert not list(tmp_path.iterdir())


def test_edge_values_of_each_slider_are_accepted(photo):
    from core.liveportrait.expression import SLIDERS

    for s in SLIDERS:
        ExpressionRequest(image=photo, edits={s.name: s.lo}).validate()
        ExpressionRequest(image=photo, keyframes=[{"time": 0, s.name: s.hi}]).validate()


def test_keyframe_values_are_range_checked_too(photo):
    with pytest.raises(BadInputError, match=r"^face edit wink=30 is outside the 'wink' slider's range 0..25$"):
        ExpressionRequest(image=photo, keyframes=[{"time": 0, "wink": 30}]).validate()
    with pytest.raises(BadInputError) as refused:
        ExpressionRequest(image=photo, keyframes=[{"time": -1, "wink": 3}]).validate()
    assert str(refused.value) == "keyframe time must be a number of seconds, 0 or more, got -1"


@pytest.fixture
def speech(tmp_path):
    from tests.samples import make_tone

    make_tone(tmp_path / "speech.wav", 1.0)
    return str(tmp_path / "speech.wav")


@pytest.mark.parametrize("content, message", [
    (b"crossfade: 8\nrows:\n  - {start: 0, end: 1, emotion: happy}\n",
     "a timeline mapping needs a 'segments' list of {start, end, emotion, strength} rows "
     "(found keys: crossfade, rows)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00", "timeline file {path} is not a text (YAML) file"),
    (b"- {start: 0, end: soon, emotion: happiness, strength: 1}\n", "timeline row 1: end must be a number, got 'soon'"),
    (b"- {start: 0, end: 1, emotion: happiness, strength: lots}\n",
     "timeline row 1: strength must be a number, got 'lots'"),
    (b"segments:\n  - {start: 0, end: 1, emotion: happiness}\ncrossfade: soon\n",
     "Emotion crossfade must be a number, got 'soon'"),  # the parameter spec's own message
    (b"- {start: -2, end: 1, emotion: happiness}\n",
     "timeline segment -2.0-1.0 s: start must be 0 or more and before the end"),
    (b"- just a line\n", "timeline row 1 must be a mapping {start, end, emotion, strength}, got 'just a line'"),
])
def test_bad_timeline_files_are_one_line_through_the_cli(photo, speech, tmp_path, capsys, content, message):
    path = tmp_path / "timeline.yaml"
    path.write_bytes(content)
    err = _cli_error(capsys, "--image", photo, "--audio", speech, "--timeline", str(path),
                     "--out", str(tmp_path / "o.mp4"))
    assert err == "error: " + message.replace("{path}", str(path))
    assert "&gt;" not in err and "&lt;" not in err and ">=" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.wav", "timeline.yaml"]


def test_table_cells_reach_the_request_as_strings_and_are_named(photo, speech):
    """The tab's table hands cells over as they are; the request names the bad one."""
    from core.audio.options import AudioOptions

    rows = [{"start": "0", "end": "1.5", "emotion": "happiness", "strength": "2"},
            {"start": "1.5", "end": "soon", "emotion": "sadness", "strength": ""}]
    with pytest.raises(BadInputError) as refused:
        ExpressionRequest(image=photo, audio=AudioOptions(speech), timeline=rows).validate()
    assert str(refused.value) == "timeline row 2: end must be a number, got 'soon'"
    rows[1]["end"] = ""
    timeline = spec.timeline_from_rows(rows)
    assert [(s.start, s.end, s.emotion, s.strength) for s in timeline.segments] == [
        (0.0, 1.5, "happiness", 2.0), (1.5, float("inf"), "sadness", 0.0)]
    with pytest.raises(BadInputError, match="^a timeline mapping needs a 'segments' list"):
        ExpressionRequest(image=photo, audio=AudioOptions(speech), timeline={"crossfade": 4}).validate()


def test_box_in_a_big_photos_own_pixels_is_mapped_to_the_working_size(test_checkpoints, photo, tmp_path):
    """A 4000x2000 photo (the astronaut at twice her size, on the right) is edited at 1920x960 (LivePortrait's limit);
    a box in the file's pixels is accepted and lands on the same face, as in the lip-dub and photo engines."""
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(test_checkpoints)
    big = tmp_path / "big.png"
    canvas = np.full((2000, 4000, 3), 90, np.uint8)
    canvas[500:1524, 2800:3824] = cv2.resize(cv2.imread(photo), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(big), canvas)
    box = [2800 + BOX[0] * 2, 500 + BOX[1] * 2, 2800 + BOX[2] * 2, 500 + BOX[3] * 2]
    assert box[2] > 1920  # beyond the working width: "must be inside the 1920x960 photo" before this fix
    result = run_job("expression", pipeline.preview, ExpressionRequest(image=str(big), box=box))
    np.testing.assert_allclose(result.extra["crop_box"], [v * 1920 / 4000 for v in box], rtol=1e-5)
    assert "big.png is 4000x2000: edited at 1920x960" in result.warnings
