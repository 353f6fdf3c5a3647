"""Presets: a tab's parameters round-trip through presets/<tab>/<name>.yaml, keyed by request dataclass fields."""
from dataclasses import dataclass

import numpy as np
import pytest
import yaml

from core.errors import BadInputError
from ui import presets


@dataclass
class FakeTabRequest:  # the shape engine requests have: plain-typed fields
    video: str = ""
    batch_size: int = 8
    extra_margin: float = 10.0
    parsing_mode: str = "jaw"
    use_fp16: bool = False


@pytest.fixture(autouse=True)
def _presets_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MOUTHPIECE_PRESETS", str(tmp_path / "presets"))
    return tmp_path / "presets"


def test_round_trip_writes_plain_yaml(_presets_dir):
    values = {"batch_size": np.int64(4), "extra_margin": np.float32(12.5), "parsing_mode": "raw", "use_fp16": True}
    path = presets.save_preset("lipdub", "Close-up v2", values, FakeTabRequest)
    assert path == _presets_dir / "lipdub" / "Close-up v2.yaml"
    assert yaml.safe_load(path.read_text()) == {"batch_size": 4, "extra_margin": 12.5, "parsing_mode": "raw",
                                                "use_fp16": True}
    assert "!!" not in path.read_text()  # no python/numpy tags: any YAML reader can load it
    assert presets.load_preset("lipdub", "Close-up v2", FakeTabRequest) == yaml.safe_load(path.read_text())
    assert [p.name for p in path.parent.iterdir()] == ["Close-up v2.yaml"]  # no temporary file left behind


@dataclass
class FakeAudioOptions:
    separate_vocals: bool = False


def test_a_preset_may_span_several_request_classes():
    both = (FakeTabRequest, FakeAudioOptions)
    presets.save_preset("lipdub", "both", {"batch_size": 2, "separate_vocals": True}, both)
    assert presets.load_preset("lipdub", "both", both) == {"batch_size": 2, "separate_vocals": True}
    with pytest.raises(BadInputError, match="unknown parameter\\(s\\) separate_vocals for FakeTabRequest$"):
        presets.load_preset("lipdub", "both", FakeTabRequest)
    with pytest.raises(BadInputError, match="unknown parameter\\(s\\) gain for FakeTabRequest/FakeAudioOptions"):
        presets.save_preset("lipdub", "x", {"gain": 2}, both)


def test_list_is_per_tab_and_sorted():
    for name in ["wide", "Close", "b-roll"]:
        presets.save_preset("portrait", name, {"batch_size": 1}, FakeTabRequest)
    presets.save_preset("lipdub", "other", {}, FakeTabRequest)
    assert presets.list_presets("portrait") == ["Close", "b-roll", "wide"]
    assert presets.list_presets("never-used") == []


def test_unknown_fields_are_refused_on_save_and_load(_presets_dir):
    with pytest.raises(BadInputError, match="unknown parameter\\(s\\) bbox, steps for FakeTabRequest"):
        presets.save_preset("lipdub", "x", {"steps": 3, "bbox": 1, "batch_size": 2}, FakeTabRequest)
    assert not (_presets_dir / "lipdub" / "x.yaml").exists()
    (_presets_dir / "lipdub").mkdir(parents=True)
    (_presets_dir / "lipdub" / "old.yaml").write_text("batch_size: 2\nguidance: 1.5\n")
    with pytest.raises(BadInputError, match="unknown parameter\\(s\\) guidance"):
        presets.load_preset("lipdub", "old", FakeTabRequest)


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 65, "semi;colon"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(BadInputError, match="is not allowed"):
        presets.save_preset("lipdub", name, {}, FakeTabRequest)


def test_broken_files_give_one_line_errors(_presets_dir):
    folder = _presets_dir / "lipdub"
    folder.mkdir(parents=True)
    (folder / "list.yaml").write_text("- 1\n- 2\n")
    (folder / "bad.yaml").write_text("batch_size: [1\n")
    with pytest.raises(BadInputError, match="must hold a mapping"):
        presets.load_preset("lipdub", "list", FakeTabRequest)
    with pytest.raises(BadInputError, match="is not valid YAML") as failure:
        presets.load_preset("lipdub", "bad", FakeTabRequest)
    assert "\n" not in str(failure.value)
    with pytest.raises(BadInputError, match="no preset named 'nope'"):
        presets.load_preset("lipdub", "nope", FakeTabRequest)


def test_shipped_example_presets_make_valid_requests(monkeypatch, tmp_path):
    """Every YAML under presets/ loads against its tab's request dataclass and passes the engine's validation."""
    from core.audio.options import AudioOptions
    from core.engines.lipdub.request import LipdubRequest
    from core.engines.expression import ExpressionRequest
    from core.engines.portrait import PortraitRequest
    from tests.samples import make_video, portrait_path

    requests = {"lipdub": LipdubRequest, "portrait": PortraitRequest, "expression": ExpressionRequest}
    speech = tmp_path / "speech.wav"
    speech.write_bytes(b"RIFF")  # validation checks the audio exists (the engines probe it) and probes the picture
    clip = make_video(tmp_path / "clip.mp4", seconds=0.2, size=(32, 32), tone_hz=None)
    media = {"lipdub": {"video": str(clip), "audio": AudioOptions(str(speech))},
             "portrait": {"image": str(portrait_path()), "audio": AudioOptions(str(speech))},
             "expression": {"image": str(portrait_path()), "audio": AudioOptions(str(speech))}}
    monkeypatch.setenv("MOUTHPIECE_PRESETS", str(presets.paths.REPO_ROOT / "presets"))
    shipped = sorted(presets.presets_dir().glob("*/*.yaml"))
    assert shipped, "presets/ ships at least one example"
    for path in shipped:
        values = presets.load_preset(path.parent.name, path.stem, requests[path.parent.name])
        request = requests[path.parent.name](**media[path.parent.name], **values)
        request.validate()
        assert values and all(getattr(request, key) == value for key, value in values.items())
