"""Face helpers: the WFLW->iBUG map, heatmap decoding, face choice and tracking, by-index frame reads."""
import numpy as np
import torch

from core.engines.lipdub.source import FrameSource, pingpong
from core.engines.lipdub.face.landmarks import _decode_heatmaps, wflw98_to_ibug68
from core.engines.lipdub.face.track import FaceTracker, pick
from tests.samples import make_video, read_counter


def test_wflw_to_ibug_matches_facexlib():
    from facexlib.alignment import landmark_98_to_68

    pts = np.random.default_rng(0).uniform(0, 200, (98, 2)).astype(np.float32)
    np.testing.assert_allclose(wflw98_to_ibug68() @ pts, landmark_98_to_68(pts), rtol=1e-6)


def test_heatmap_decoding_quarter_pixel_rule():
    heat = torch.zeros(1, 2, 64, 64)
    heat[0, 0, 20, 30] = 1.0
    heat[0, 0, 20, 31] = 0.5  # right neighbour higher -> +0.25 in x
    heat[0, 1, 5, 7] = 1.0
    heat[0, 1, 4, 7] = 0.3  # upper neighbour higher -> -0.25 in y
    pts = _decode_heatmaps(heat)
    assert pts[0, 0].tolist() == [30.75, 20.5]
    assert pts[0, 1].tolist() == [7.5, 5.25]  # 5 - 0.25 + 0.5


def _dets(*boxes):
    return np.array([[*b, 0.9] for b in boxes], dtype=np.float32)


def test_pick_largest_index_and_point():
    dets = _dets((200, 10, 260, 80), (10, 10, 50, 60), (100, 0, 200, 120))
    assert pick(dets) == 2  # largest
    assert pick(dets, face=0) == 1 and pick(dets, face=2) == 0  # numbered from the left
    assert pick(dets, face=5) is None
    assert pick(dets, point=(220, 40)) == 0
    assert pick(dets, point=(20, 150)) == 1  # outside every box: nearest centre


def test_tracker_follows_the_chosen_face():
    t = FaceTracker(face=0)
    assert t.update(_dets()) is None  # no face yet
    assert t.update(_dets((100, 0, 150, 60), (10, 10, 60, 70))).tolist() == [10, 10, 60, 70]
    # the faces swap list order and drift: the tracker keeps the same person
    assert t.update(_dets((14, 12, 64, 72), (100, 0, 150, 60))).tolist() == [14, 12, 64, 72]
    assert t.update(_dets((100, 0, 150, 60))) is None  # our face left the frame: that frame passes through
    for _ in range(24):
        assert t.update(_dets((100, 0, 150, 60))) is None
    # 25 frames without it (a cut): the choice rule picks again
    assert t.update(_dets((100, 0, 150, 60))).tolist() == [100, 0, 150, 60]


def test_frame_source_reads_by_index_for_pingpong(tmp_path):
    video = make_video(tmp_path / "c.mp4", seconds=1.2, fps=25, tone_hz=None)  # 30 frames, counters 0..29
    src = FrameSource(video, chunk=8)
    assert src.n == 30
    order = [pingpong(i, src.n) for i in range(75)]  # forward, backward, forward part
    got = [read_counter(f) for a in range(0, 75, 10) for f in src.frames(order[a:a + 10])]
    assert got == order
    assert len(src._chunks) <= 2  # bounded: at most two chunks of decoded frames are held


def test_landmarks_map_heatmaps_back_to_frame_pixels():
    from core.engines.lipdub.face.landmarks import FAN_CROP_SCALE, landmarks68

    seen = {}

    def fake_fan(x):
        seen["crop"] = x
        heat = torch.zeros(x.shape[0], 99, 64, 64)
        heat[:, :98, 16, 32] = 1.0  # every point at heatmap (x=32, y=16)
        return [heat], None

    frame = np.zeros((1, 200, 300, 3), np.uint8)
    frame[0, 100, 150] = 255  # the box centre
    box = np.array([[110, 60, 190, 140]], np.float32)  # centre (150, 100), side 80 * 1.25 = 100
    lm = landmarks68(fake_fan, frame, box, "cpu")
    side = 80 * FAN_CROP_SCALE
    assert lm.shape == (1, 68, 2)
    np.testing.assert_allclose(lm[0, 0], [150 - side / 2 + 32.5 * side / 64, 100 - side / 2 + 16.5 * side / 64],
                               atol=1e-4)
    crop = seen["crop"][0].sum(0)
    y, x = np.unravel_index(int(crop.argmax()), crop.shape)
    assert abs(x - 128) <= 2 and abs(y - 128) <= 2  # the FAN sees the box centred in its 256x256 input


def test_prefetch_keeps_order_and_raises_producer_errors():
    import pytest

    from core.engines.lipdub.source import prefetch

    assert list(prefetch(iter(range(20)), depth=2)) == list(range(20))

    def broken():
        yield 1
        raise ValueError("bad frame")

    it = prefetch(broken())
    assert next(it) == 1
    with pytest.raises(ValueError, match="bad frame"):
        next(it)
