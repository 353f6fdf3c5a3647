"""MoDA motion arithmetic: 70-d layout and statistics, normalisation + identity rescale, chunking, blending,
smoothing, lip modulation and the motion -> driving-keypoint mapping."""
import math

import pytest
import torch

from core.moda import motion as M
from core.moda.drive import driving_params


def test_statistics_match_the_reference_facts():
    mean, std = M.MOTION_MEAN, M.MOTION_STD
    assert mean.shape == std.shape == (70,)
    pose_mean = [1.2865, -0.0133, 0.0999, 0.0, -2.34, -0.25, -0.33]
    pose_std = [0.0691, 0.0658, 0.0348, 0.0, 8.88, 23.86, 5.61]
    assert mean[63:].tolist() == pytest.approx(pose_mean, abs=6e-3)
    assert std[63:].tolist() == pytest.approx(pose_std, abs=6e-3)
    assert int((std[:63] < 1e-5).sum()) == 10  # the near-constant exp-z dims the 1e-5 epsilon amplifies
    assert std[66] == 0.0 and mean[66] == 0.0  # tz


def test_pack_layout_and_tz_zeroed():
    exp = torch.arange(63.0).reshape(21, 3)
    v = M.pack(exp, 1.5, torch.tensor([0.1, 0.2, 0.3]), 4.0, 5.0, 6.0)
    assert v[:63].tolist() == list(range(63))
    assert v[63:].tolist() == pytest.approx([1.5, 0.1, 0.2, 0.0, 4.0, 5.0, 6.0])


def _plausible(n: int, generator: torch.Generator) -> torch.Tensor:
    """Raw motions inside mean +- 3 std (outside it the tiny-std dims normalise to ~1e4)."""
    return M.MOTION_MEAN + (torch.rand(n, 70, generator=generator) * 6 - 3) * M.MOTION_STD


def test_normalise_denormalise_round_trip_with_identity_rescale():
    raw = _plausible(16, torch.Generator().manual_seed(0))
    for source_scale in (1.2864639, 0.9, 1.7):
        ratio = M.rescale_ratio(source_scale)
        assert ratio == pytest.approx((source_scale + 1e-5) / (1.2864639 + 1e-5))
        torch.testing.assert_close(M.denormalize(M.normalize(raw, ratio), ratio), raw, rtol=1e-5, atol=1e-6)


def test_normalise_hand_values():
    ratio = M.rescale_ratio(2 * 1.2864639 + 1e-5)  # = 2 exactly: a face twice the mean size
    assert ratio == pytest.approx(2.0)
    raw = M.MOTION_MEAN.clone()
    raw[M.SCALE] = 2 * M.MOTION_MEAN[M.SCALE]           # scale / r = mean -> 0
    raw[64] = 2 * (M.MOTION_MEAN[64] + M.MOTION_STD[64])  # tx / r = mean + std -> std / (std + eps)
    raw[68] = M.MOTION_MEAN[68] - 2 * M.MOTION_STD[68]    # yaw is not rescaled -> -2 std / (std + eps)
    n = M.normalize(raw, ratio)
    assert n[M.SCALE].item() == pytest.approx(0.0, abs=1e-5)
    assert n[64].item() == pytest.approx(0.0658 / (0.0658 + 1e-5), rel=1e-3)
    assert n[68].item() == pytest.approx(-2.0, rel=1e-4)
    back = M.denormalize(torch.zeros(70), 2.0)  # model output 0 = the mean motion, scale and t doubled
    assert back[M.SCALE].item() == pytest.approx(2 * 1.2864639, rel=1e-6)
    assert back[65].item() == pytest.approx(2 * 0.099949256, rel=1e-6)
    assert back[67].item() == pytest.approx(-2.3406775, rel=1e-6)


@pytest.mark.parametrize("frames,chunks,padding", [
    (1, 1, 79), (50, 1, 30), (79, 1, 1), (80, 1, 0),  # shorter than / exactly one chunk
    (81, 2, 63), (144, 2, 0), (145, 3, 63), (1000, 16, 40), (1500 + 50, 24, 2),
])
def test_chunk_plan(frames, chunks, padding):
    plan = M.ChunkPlan(frames)
    assert (plan.chunks, plan.padding) == (chunks, padding)
    assert plan.window(plan.chunks - 1)[1] == frames + padding
    assert [plan.window(i) for i in range(2)] == [(0, 80), (64, 144)]
    # every frame is covered and the stored pieces add up: 80 + 64 * (n - 1) - padding
    assert 80 + 64 * (chunks - 1) - padding == frames
    assert M.STRIDE == 64 and M.OVERLAP == 16


def test_blend_overlap_ramps_k_over_16():
    out = M.blend_overlap(torch.zeros(16, 70), torch.ones(16, 70))
    torch.testing.assert_close(out[:, 0], torch.arange(16.0) / 16)


def test_smooth_pose_window3_only_pose_dims():
    m = torch.zeros(5, 70)
    m[:, :63] = torch.arange(5.0)[:, None] ** 2      # exp dims must not change
    m[:, 63:] = torch.tensor([0.0, 3.0, 9.0, 0.0, 6.0])[:, None]
    out = M.smooth_pose(m, 3)
    torch.testing.assert_close(out[:, :63], m[:, :63])
    torch.testing.assert_close(out[:, 67], torch.tensor([1.5, 4.0, 4.0, 5.0, 3.0]))
    torch.testing.assert_close(M.smooth_pose(m, 1), m)
    torch.testing.assert_close(M.smooth_pose(m, 5)[2, 63:], torch.full((7,), 18.0 / 5))


def test_modulate_lip_hand_computed():
    m = torch.zeros(3, 70)
    m[0, 6 * 3 + 1] = 0.5          # frame 0: lip keypoint 6, y moved by 0.5 -> d = 0.25
    m[1, 17 * 3 + 2] = 1.0         # frame 1: lip keypoint 17, z moved by 1 -> d = 1 (the max)
    m[1, 0] = 7.0                  # a non-lip dim: untouched
    out = M.modulate_lip(m, ref_index=-1)  # frame 2 is the (silent) reference
    w0 = (1 / (1 + math.exp(-5 * 0.25)) - 0.5) / (0.1 * 1.0 + 0.05)
    w1 = (1 / (1 + math.exp(-5 * 1.0)) - 0.5) / (0.1 * 1.0 + 0.05)
    assert out[0, 19].item() == pytest.approx(0.5 * (1 + w0), rel=1e-5)
    assert out[1, 53].item() == pytest.approx(1.0 * (1 + w1), rel=1e-5)
    assert out[1, 0].item() == 7.0
    torch.testing.assert_close(out[2], m[2])


def test_emotion_ids():
    assert M.emotion_id("none") == M.emotion_id(None) == 8
    assert [M.emotion_id(e) for e in ("Anger", "happiness", "surprise")] == [0, 4, 7]
    with pytest.raises(ValueError):
        M.emotion_id("joy")


def test_driving_params_follow_moda_absolute_mode():
    src = M.pack(torch.full((21, 3), -1.0), 1.3, torch.tensor([0.01, 0.02, 0.5]), 1.0, 2.0, 3.0)
    gen = M.pack(torch.full((21, 3), 1.0), 9.0, torch.tensor([0.11, 0.22, 0.7]), 11.0, 22.0, 33.0)[None]
    p = driving_params(gen, src, head_motion=1.0)
    exp = p.exp[0]
    animated = {1, 2, 6, *range(11, 21)}
    for kp in range(21):
        for axis in range(3):
            from_gen = kp in animated or (kp, axis) in {(3, 1), (4, 1), (5, 2), (8, 2), (9, 1), (9, 2)}
            eyeball = {(11, 1): 0.0025, (15, 1): 0.0025, (13, 1): 0.00075, (16, 1): 0.00075}.get((kp, axis), 0.0)
            assert exp[kp, axis].item() == pytest.approx(1.0 + eyeball if from_gen else -1.0), (kp, axis)
    assert [p.pitch.item(), p.yaw.item(), p.roll.item()] == pytest.approx([11.0, 22.0, 33.0])
    assert p.t[0].tolist() == pytest.approx([0.11, 0.22, 0.0])
    still = driving_params(gen, src, head_motion=0.0)
    assert [still.pitch.item(), still.yaw.item(), still.roll.item()] == pytest.approx([1.0, 2.0, 3.0])
    assert still.t[0].tolist() == pytest.approx([0.01, 0.02, 0.0])
    half = driving_params(gen, src, head_motion=0.5)
    assert half.yaw.item() == pytest.approx(12.0)
    torch.testing.assert_close(half.exp, p.exp)  # head motion scales the pose only
