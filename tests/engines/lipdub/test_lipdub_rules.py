"""Lip-dub geometry and signal rules against hand-computed values (no models)."""
from typing import ClassVar

import numpy as np
import pytest
import torch

from core.engines.lipdub import audio as A
from core.engines.lipdub import blend as B
from core.engines.lipdub.source import pingpong
from core.errors import BadInputError
from core.engines.lipdub.face import crop as C
from core.request import parse_box
from core.engines.lipdub.face.parsing import cheek_mask, mode_mask


def face68(nose28=(50, 60), nose29=(50, 70), nose30=(50, 78), xs=(20, 80), chin=100):
    """68 points: a jaw line from xs[0] to xs[1] ending at the chin, nose bridge points 28-30 as given."""
    lm = np.zeros((68, 2), dtype=np.float32)
    lm[:, 0] = np.linspace(xs[0], xs[1], 68)
    lm[:, 1] = 65.0
    lm[8] = (50, chin)
    lm[28], lm[29], lm[30] = nose28, nose29, nose30
    return lm


class TestCropRule:
    def test_anchor_mirror_and_extent(self):
        # anchor 70, chin 100 -> top 2*70-100 = 40; x from the landmark extent
        assert C.landmark_box(face68()) == (20, 40, 80, 100)

    def test_truncates_like_int32(self):
        assert C.landmark_box(face68(nose29=(50, 70.9), xs=(20.7, 80.6), chin=100.99)) == (20, 40, 80, 100)

    def test_bbox_shift_moves_the_anchor(self):
        assert C.landmark_box(face68(), bbox_shift=5) == (20, 50, 80, 100)   # 2*75-100
        assert C.landmark_box(face68(), bbox_shift=-7) == (20, 26, 80, 100)  # 2*63-100

    def test_extra_margin_extends_the_bottom_and_clamps_to_the_frame(self):
        assert C.landmark_box(face68(), extra_margin=10, frame_hw=(200, 200)) == (20, 40, 80, 110)
        assert C.landmark_box(face68(), extra_margin=10, frame_hw=(105, 200)) == (20, 40, 80, 105)

    def test_top_clamps_at_zero(self):
        assert C.landmark_box(face68(nose29=(50, 30)), frame_hw=(200, 200)) == (20, 0, 80, 100)  # 2*30-100 < 0

    def test_falls_back_to_the_detector_box(self):
        bad = face68(xs=(-5, 80))  # x1 < 0 -> reference uses the detector box
        assert C.landmark_box(bad, fallback=np.array([10.7, 12.2, 90.9, 99.5, 0.9])) == (10, 12, 90, 99)
        assert C.landmark_box(bad, extra_margin=10, fallback=np.array([10, 12, 90, 99])) == (10, 12, 90, 109)
        assert C.landmark_box(bad) is None

    def test_suggested_range(self):
        lms = np.stack([face68(nose28=(50, 60), nose29=(50, 70), nose30=(50, 78)),
                        face68(nose28=(50, 62), nose29=(50, 70), nose30=(50, 80))])
        assert C.shift_range(lms) == (-9, 9)  # -int(mean(8, 10)), int(mean(10, 8))

    def test_manual_box(self):
        assert C.manual_box(parse_box("10, 20, 50,60"), (100, 100)) == (10, 20, 50, 60)
        for text in ("10,20,150,60", "-1,0,10,10", "10,10,5,20"):
            with pytest.raises(BadInputError):
                C.manual_box(parse_box(text), (100, 100))
        with pytest.raises(BadInputError):
            parse_box("1,2,3")

    def test_smoothing_averages_within_runs_only(self):
        boxes = np.array([[0, 0, 10, 10]] * 3 + [[5, 0, 15, 10]] + [[0, 0, 10, 10]] * 3 + [[50, 50, 60, 60]] * 2)
        valid = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1], dtype=bool)
        out = C.smooth_boxes(boxes, valid, window=5)
        assert out[3].tolist() == [1, 0, 11, 10]  # (0+0+5+0+0)/5
        assert out[0].tolist() == [0, 0, 10, 10]  # edge: mean of frames 0..2
        assert out[8].tolist() == [50, 50, 60, 60]  # a run of its own, untouched by the others


class TestAudioWindows:
    @pytest.mark.parametrize("fps, starts, pad", [
        (25, [0, 2, 4, 20], 4),            # m = 2
        (30, [0, 1, 3, 16], 4),            # m = 50/30: floor(k*1.667)
        (29.97, [0, 1, 3, 17], 4),         # int(29.97) = 29: floor(k*1.7241), k = 10 -> 17
    ])
    def test_window_starts(self, fps, starts, pad):
        ks = [0, 1, 2, 10]
        assert [A.window_start(k, fps) for k in ks] == starts
        assert A.left_pad(fps) == pad
        assert A.window_rows(1, fps) == range(starts[1] - pad, starts[1] - pad + 10)

    def test_frame_and_row_counts(self):
        assert A.frame_count(40000, 25) == 62          # 2.5 s
        assert A.frame_count(40000, 29.97) == 72       # floor(2.5 * 29)
        assert A.row_count(40000) == 125
        assert A.frame_count(16000 * 31, 25) == 775

    def test_features_cross_the_30s_boundary(self):
        class Coded(A.WhisperFeatures):
            """Encoder stand-in: row r of segment s holds (s*1500 + r + 1) * 10 + layer."""
            calls: ClassVar[list[int]] = []

            def _segment(self, s):
                self.calls.append(s)
                rows = torch.arange(1500, dtype=torch.float32)[:, None] + s * 1500 + 1
                return (rows * 10 + torch.arange(5)).unsqueeze(-1).expand(1500, 5, 384).clone()

        f = Coded(np.zeros(16000 * 31, np.float32), None, None, "cpu", torch.float32, 25)
        assert f.frames == 775 and f.rows == 1550
        out = f([0, 749, 774])
        assert out.shape == (3, 50, 384)
        # frame 0: rows -4..5; the first 4 are padding zeros; sequence position = time*5 + layer
        assert out[0, :20, 0].eq(0).all()
        assert out[0, 20:25, 0].tolist() == [10, 11, 12, 13, 14]  # row 0, layers 0..4
        # frame 749 reads rows 1494..1503 across segments 0 and 1
        assert out[1, ::5, 0].tolist() == [(r + 1) * 10 for r in range(1494, 1504)]
        # frame 774 reads rows 1544..1553; rows >= 1550 are past the audio: zeros
        assert out[2, ::5, 0].tolist() == [(r + 1) * 10 for r in range(1544, 1550)] + [0] * 4
        assert set(Coded.calls) == {0, 1}

    def test_positional_encoding_closed_form(self):
        pe = A.positional_encoding(50, 384)
        assert pe[0, 0] == 0 and pe[0, 1] == 1
        assert torch.isclose(pe[3, 4], torch.tensor(np.sin(3 / 10000 ** (4 / 384)), dtype=torch.float32))
        assert torch.isclose(pe[7, 9], torch.tensor(np.cos(7 / 10000 ** (8 / 384)), dtype=torch.float32))


def test_pingpong():
    assert [pingpong(i, 3) for i in range(9)] == [0, 1, 2, 2, 1, 0, 0, 1, 2]
    assert [pingpong(i, 1) for i in range(3)] == [0, 0, 0]


class TestMasks:
    def test_raw_and_neck(self):
        p = np.zeros((512, 512), np.uint8)
        p[0, :9] = [0, 1, 2, 10, 11, 12, 13, 14, 17]
        assert (mode_mask(p, "raw")[0, :9] > 0).tolist() == [0, 1, 0, 0, 1, 1, 1, 0, 0]
        assert (mode_mask(p, "neck")[0, :9] > 0).tolist() == [0, 1, 0, 0, 1, 1, 1, 1, 0]

    def test_jaw_dilates_skin_and_excludes_the_nose(self):
        p = np.zeros((512, 512), np.uint8)
        p[100:200, 200:300] = 1
        p[150:160, 240:260] = 10
        p[300:310, 250:260] = 12
        m = mode_mask(p, "jaw", 90, 90) > 0
        col = np.nonzero(m[:200 + 20, 250])[0]
        assert (col[0], col[-1]) == (84, 205)  # kernel rows 10-32: skin 16 px below or 6 px above turns a pixel on
        assert not m[155, 250] and m[305, 255]  # nose stays, lips join
        assert m[150, 190] and not m[150, 189] and m[150, 309] and not m[150, 310]  # +-10 px sideways

    def test_jaw_erodes_in_the_cheek_columns(self):
        p = np.zeros((512, 512), np.uint8)
        p[100:200, :] = 1
        m = mode_mask(p, "jaw", 90, 90) > 0
        def span(x):
            return tuple(np.nonzero(m[:, x])[0][[0, -1]])
        assert span(166) == (86, 203) and span(346) == (86, 203)  # cheeks: two 35x3 erosions, 1 px each way
        assert span(167) == (84, 205) and span(345) == (84, 205)  # centre band keeps the dilation

    def test_cheek_mask_columns(self):
        m = cheek_mask(90, 60)
        assert m[0, 166] == 255 and m[0, 167] == 0 and m[0, 315] == 0 and m[0, 316] == 255


class TestBlend:
    def test_crop_box_integer_math(self):
        assert B.crop_box((10, 20, 110, 150)) == ([-37, -12, 157, 182], 97)  # s = int(130 // 2 * 1.5)
        assert B.blur_kernel_size(97) == 9 and B.blur_kernel_size(100) == 11

    def test_alpha_only_below_the_crop_middle(self):
        box = (40, 40, 140, 160)  # crop centre y = 100
        alpha = B.box_alpha(torch.full((512, 512), 255), box)
        assert alpha.shape == (120, 100)
        assert alpha[:55].max() == 0  # rows above y=100 minus the blur reach (k=13 -> 6 px) stay untouched
        assert alpha[80:110, 20:80].min() == 1.0

    def test_blend_region_keeps_pixels_where_alpha_is_zero(self):
        region = torch.randint(0, 256, (3, 32, 32)).float()  # frames are whole numbers
        alpha = torch.zeros(32, 32)
        alpha[16:] = 1
        alpha[8, 0] = 0.5
        out = B.blend_region(region, torch.zeros(3, 256, 256), alpha)
        assert torch.equal(out[:, :8], region[:, :8]) and torch.equal(out[:, 9:16], region[:, 9:16])
        assert out[:, 16:].max() == 0
        assert torch.equal(out[:, 8, 0], (region[:, 8, 0] * 0.5).round())
