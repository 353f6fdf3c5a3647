"""Face-edit sliders move exactly the reference's keypoint entries by its amounts per unit.

Expected offsets are written out by hand from the reference code, per unit value:
AdvancedLivePortrait nodes.py `calc_fe` (smile, aaa, eee, woo, wink, pupil_x/y, blink, eyebrow, rotate_*; its
ExpressionEditor negates rotate_yaw on input) and LivePortrait gradio_pipeline.py `update_delta_new_*`
(lip_variation_three = lip open, lip_variation_zero = pouting, lip_variation_one = pursing, mov_x negated, mov_y).
gaze_y: calc_fe does e[11,y] += -0.001 v, e[15,y] += -0.001 v, then eyes -= v / 2 and applies blink with
eyes = -v/2: e[11,y], e[15,y] += -0.001 * (-v/2) = +0.0005 v; e[13,y], e[16,y] += 0.0003 * (-v/2) = -0.00015 v;
e[1,y] += -0.00025 * (-v/2) = +0.000125 v; e[2,y] += 0.00025 * (-v/2) = -0.000125 v.
So gaze_y per unit: (11,y) -0.0005, (15,y) -0.0005, (13,y) -0.00015, (16,y) -0.00015, (1,y) +0.000125, (2,y) -0.000125.
"""
import pytest
import torch

from core.errors import BadInputError
from core.liveportrait import expression as E

x, y, z = 0, 1, 2
# slider -> (exp entries per unit for v > 0, for v < 0, pose (pitch, yaw, roll) per unit)
SMILE = {(20, y): -0.01, (14, y): -0.02, (17, y): 0.0065, (17, z): 0.003, (13, y): -0.00275, (16, y): -0.00275,
         (3, y): -0.0035, (7, y): -0.0035}
AAA = {(19, y): 0.001, (19, z): 0.0001, (17, y): -0.0001}
EEE = {(20, z): -0.001, (20, y): -0.001, (14, y): -0.001}
WOO = {(14, y): 0.001, (3, y): -0.0005, (7, y): -0.0005, (17, z): -0.0005}
WINK = {(11, y): 0.001, (13, y): -0.0003, (17, x): 0.0003, (17, y): 0.0003, (3, y): -0.0003}
BLINK = {(11, y): -0.001, (15, y): -0.001, (13, y): 0.0003, (16, y): 0.0003, (1, y): -0.00025, (2, y): 0.00025}
GAZE_Y = {(11, y): -0.0005, (15, y): -0.0005, (13, y): -0.00015, (16, y): -0.00015, (1, y): 0.000125,
          (2, y): -0.000125}
EXPECTED = {
    "smile": (SMILE, SMILE, (0, 0, 0)),
    "aaa": (AAA, AAA, (-0.05, 0, 0)),
    "eee": (EEE, EEE, (0, 0, 0)),
    "woo": (WOO, WOO, (0, 0, 0)),
    "lip_open": (AAA, AAA, (0, 0, 0)),
    "pouting": ({(19, x): 1.0}, {(19, x): 1.0}, (0, 0, 0)),
    "pursing": (WOO, WOO, (0, 0, 0)),
    "wink": (WINK, WINK, (0, -0.1, -0.1)),
    "gaze_x": ({(11, x): 0.0007, (15, x): 0.001}, {(11, x): 0.001, (15, x): 0.0007}, (0, 0, 0)),
    "gaze_y": (GAZE_Y, GAZE_Y, (0, 0, 0)),
    "blink": (BLINK, BLINK, (0, 0, 0)),
    "eyebrow": ({(1, y): 0.001, (2, y): -0.001},
                {(1, x): -0.001, (2, x): 0.001, (1, y): 0.0003, (2, y): -0.0003}, (0, 0, 0)),
    "pitch": ({}, {}, (1, 0, 0)),
    "yaw": ({}, {}, (0, -1, 0)),
    "roll": ({}, {}, (0, 0, 1)),
    "move_x": ({(5, x): -1.0}, {(5, x): -1.0}, (0, 0, 0)),
    "move_y": ({(5, y): 1.0}, {(5, y): 1.0}, (0, 0, 0)),
}
# Two values per slider inside its reference range; where the table is piecewise, one on each side.
VALUES = {"smile": (0.6, -0.25), "aaa": (40, -12), "eee": (7.5, -3), "woo": (10, -20), "lip_open": (100, -90),
          "pouting": (0.09, -0.05), "pursing": (15, -7), "wink": (25, 3.5), "gaze_x": (12, -9), "gaze_y": (15, -6),
          "blink": (-20, 4), "eyebrow": (15, -10), "pitch": (-20, 7), "yaw": (10, -15), "roll": (3, -20),
          "move_x": (0.19, -0.1), "move_y": (-0.19, 0.07)}


def test_every_slider_has_a_hand_written_expectation():
    assert set(EXPECTED) == set(E.SLIDER_BY_NAME) == set(VALUES)
    assert {s.group for s in E.SLIDERS} == set(E.GROUPS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_slider_moves_exactly_the_reference_entries(name):
    for v in VALUES[name]:
        pos, neg, pose_per_unit = EXPECTED[name]
        table = pos if v > 0 else neg
        want = torch.zeros(1, 21, 3, dtype=torch.float64)
        for (kp, axis), amount in table.items():
            want[0, kp, axis] = amount * v
        exp, pose = E.edit_deltas({name: v})
        assert exp.shape == (1, 21, 3) and pose.shape == (1, 3)
        torch.testing.assert_close(exp.double(), want, atol=1e-9, rtol=1e-6)
        assert (exp != 0).sum().item() == len(table)  # nothing else moves
        torch.testing.assert_close(pose.double(), torch.tensor([pose_per_unit], dtype=torch.float64) * v,
                                   atol=1e-6, rtol=1e-6)


def test_sliders_add_up_and_per_frame_values_batch():
    exp, pose = E.edit_deltas({"smile": 0.5, "wink": 10, "yaw": 5})
    a, pa = E.edit_deltas({"smile": 0.5})
    b, pb = E.edit_deltas({"wink": 10})
    c, pc = E.edit_deltas({"yaw": 5})
    torch.testing.assert_close(exp, a + b + c)
    torch.testing.assert_close(pose, pa + pb + pc)
    # gaze_y and blink together: the coupling adds to the user's blink
    both, _ = E.edit_deltas({"gaze_y": 4, "blink": -6})
    torch.testing.assert_close(both, E.edit_deltas({"gaze_y": 4})[0] + E.edit_deltas({"blink": -6})[0])
    frames, _ = E.edit_deltas({"eyebrow": torch.tensor([-5.0, 0.0, 5.0])})
    torch.testing.assert_close(frames[0], E.edit_deltas({"eyebrow": -5})[0][0])
    torch.testing.assert_close(frames[2], E.edit_deltas({"eyebrow": 5})[0][0])
    assert not frames[1].any()


def test_unknown_or_non_numeric_edit_is_one_line_error():
    with pytest.raises(BadInputError, match="unknown face edit 'grinn'"):
        E.edit_deltas({"grinn": 1})
    with pytest.raises(BadInputError, match="must be a number"):
        E.edit_deltas({"smile": "lots"})


def test_neutralize_keeps_keypoint_5():
    src = torch.randn(1, 21, 3)
    out = E.neutralize(src, 0.25)
    torch.testing.assert_close(out[:, 5], src[:, 5])
    rows = [r for r in range(21) if r != 5]
    torch.testing.assert_close(out[:, rows], src[:, rows] * 0.25)


@pytest.mark.parametrize("parts,rows,rotates", [
    ("expression", list(range(21)), False), ("all", list(range(21)), True), ("rotation", [], True),
    ("mouth", [14, 17, 19, 20], False), ("eyes", [1, 2, 11, 13, 15, 16], False),
])
def test_transfer_parts_follow_sample_parts(parts, rows, rotates):
    sample = torch.randn(1, 21, 3)
    pose = torch.tensor([[4.0, -10.0, 2.0]])
    exp, dpose = E.transfer_delta(sample, pose, parts, 0.5)
    want = torch.zeros(1, 21, 3)
    want[:, rows] = sample[:, rows] * 0.5
    want[:, 5, :2] = 0  # the reference zeroes keypoint 5's x and y of the sample
    torch.testing.assert_close(exp, want)
    torch.testing.assert_close(dpose, pose * 0.5 if rotates else torch.zeros(1, 3))
    with pytest.raises(BadInputError):
        E.transfer_delta(sample, pose, "nose", 1.0)
