"""Edit plans (constant + keyframes + auto blink + transfer) and the text/YAML forms of edits, keyframes and
timelines."""
import pytest
import torch

from core.engines.expression import spec
from core.engines.expression.blink import blink_curve
from core.engines.expression.edits import EditPlan
from core.moda import motion as M
from core.moda.timeline import Timeline
from core.errors import BadInputError
from core.liveportrait import expression as E
from core.request import read_yaml


def test_constant_keyframed_blink_and_transfer_add_up():
    kfs = spec.keyframes_from_rows([{"time": 0, "smile": 0.0}, {"time": 1, "smile": 1.0}])
    tx, tp = torch.full((1, 21, 3), 0.01), torch.tensor([[1.0, 2.0, 3.0]])
    plan = EditPlan(constant=(("smile", 0.2), ("yaw", 5.0)), keyframes=kfs, blink_rate=20, seed=1,
                    transfer_exp=tx, transfer_pose=tp)
    exp, pose = plan.deltas(50, 25.0)
    values = plan.slider_values(50, 25.0)
    smile = 0.2 + torch.clamp(torch.arange(50) / 25.0, max=1.0)
    torch.testing.assert_close(values["smile"], smile.float())
    torch.testing.assert_close(values["blink"], blink_curve(50, 25.0, 20, 1))
    want_exp, want_pose = E.edit_deltas({"smile": smile, "yaw": torch.full((50,), 5.0),
                                         "blink": blink_curve(50, 25.0, 20, 1)})
    torch.testing.assert_close(exp, want_exp + tx)
    torch.testing.assert_close(pose, want_pose + tp)


def test_edit_text_and_bad_forms():
    assert spec.parse_edits("smile=0.6, yaw=10") == {"smile": 0.6, "yaw": 10.0}
    assert spec.parse_edits({"blink": -3}) == {"blink": -3.0}
    for bad, match in (("smile", "name=value"), ("smile=lots", "must be a number"), ("grin=1", "unknown")):
        with pytest.raises(BadInputError, match=match):
            spec.parse_edits(bad)
    with pytest.raises(BadInputError, match="no time"):
        spec.keyframes_from_rows([{"smile": 1}])


def test_yaml_files_for_keyframes_and_timeline(tmp_path):
    (tmp_path / "kf.yaml").write_text("- {time: 2, smile: 1, easing: ease-in-out}\n- {time: 0, smile: 0}\n")
    rows = read_yaml(tmp_path / "kf.yaml", "keyframes")
    kfs = spec.keyframes_from_rows(rows)
    assert [k.time for k in kfs] == [0.0, 2.0] and kfs[1].easing == "ease-in-out"
    (tmp_path / "tl.yaml").write_text("crossfade: 8\nsegments:\n  - {start: 0, end: 3, emotion: happiness, "
                                      "strength: 2}\n")
    tl = Timeline.from_data(read_yaml(tmp_path / "tl.yaml", "timeline"))
    assert tl.crossfade == 8 and tl.segments[0].emotion_id == M.EMOTIONS.index("happiness")
    assert Timeline.from_data([{"start": 0, "end": 1, "emotion": "fear", "strength": 1}], crossfade=4).crossfade == 4
    (tmp_path / "bad.yaml").write_text("- {start: 0\n")
    with pytest.raises(BadInputError, match="not valid YAML"):
        read_yaml(tmp_path / "bad.yaml", "timeline")
    (tmp_path / "obj.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(BadInputError):  # safe_load refuses Python objects
        read_yaml(tmp_path / "obj.yaml", "timeline")
