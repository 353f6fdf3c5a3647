"""StableAvatar sampling maths: windows, overlap weights, audio ranges, guidance, scheduler, the window loop."""
import itertools
import math

import numpy as np
import pytest
import torch

from core.wan import audio, sampling

pytest_plugins = ["tests.avatar_support"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("frames,latents", [(1, 1), (2, 2), (5, 2), (6, 3), (81, 21), (82, 22), (250, 64)])
def test_latents_cover_every_video_frame(frames, latents):
    assert sampling.latent_frames(frames) == latents
    assert sampling.video_frames(latents) >= frames > sampling.video_frames(latents) - 4


def test_windows_short_exact_and_long():
    assert sampling.plan_windows(10, 5) == [(0, 10)]                 # shorter than one window: still sampled
    assert sampling.plan_windows(21, 5) == [(0, 21)]
    assert sampling.plan_windows(22, 5) == [(0, 21), (16, 22)]
    assert sampling.plan_windows(63, 5) == [(0, 21), (16, 37), (32, 53), (48, 63)]
    assert sampling.plan_windows(40, 1) == [(0, 21), (20, 40)]
    for overlap in (1, 5, 10, 20):
        for latents in range(22, 200, 7):
            windows = sampling.plan_windows(latents, overlap)
            stride = 21 - overlap
            assert len(windows) == 1 + math.ceil((latents - 21) / stride)
            assert windows[-1][1] == latents
            assert all(e - s == 21 for s, e in windows[:-1])
            assert overlap + 1 <= windows[-1][1] - windows[-1][0] <= 21
            assert all(b[0] - a[0] == stride for a, b in itertools.pairwise(windows))
    with pytest.raises(ValueError):
        sampling.plan_windows(30, 21)


def test_overlap_weights():
    torch.testing.assert_close(sampling.overlap_weights(5, "uniform"), torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))
    log = sampling.overlap_weights(5, "log")
    expected = torch.tensor([math.log(1 + (math.e - 1) * j / 4) for j in range(5)])
    torch.testing.assert_close(log, expected)
    assert log[0] == 0 and abs(log[-1] - 1) < 1e-6 and torch.all(log[1:-1] > torch.tensor([0.25, 0.5, 0.75]))
    for scheme in sampling.SCHEMES:                                 # overlap 1: no division by zero
        assert sampling.overlap_weights(1, scheme).tolist() == [0.5]


def reference_split(length, num_frames):
    """split_audio_sequence + split_tensor_with_padding(expand 4) from the reference, as inclusive ranges."""
    tpf = length / num_frames
    half = int(tpf * 4 / 2)
    pos = [0] + [int((tpf * ((i - 1) * 4 + 1) + tpf * (i * 4 + 1)) / 2) - 1
                 for i in range(1, (num_frames - 1) // 4 + 1)]
    ranges = [[p - half, p + half] for p in pos]
    ranges[0] = [-(half * 2 - ranges[1][0]), ranges[1][0]]
    return [(a - 4, b + 4) for a, b in ranges]


@pytest.mark.parametrize("tokens", [161, 167, 40, 99])
def test_token_ranges_match_the_reference(tokens):
    ours = audio.token_ranges(tokens, 21)
    assert [(a, b - 1) for a, b in ours] == reference_split(tokens, 81)
    assert len({b - a for a, b in ours}) == 1
    assert {161: 15, 167: 17}.get(tokens, ours[0][1] - ours[0][0]) == ours[0][1] - ours[0][0]


def test_short_window_gets_its_own_audio_spread():
    tokens = 49                                          # about 25 frames of audio: a 7-latent last window
    ours = audio.token_ranges(tokens, 7)
    assert len(ours) == 7
    assert [(a, b - 1) for a, b in ours] == reference_split(tokens, 25)
    centre_last = (ours[-1][0] + ours[-1][1]) / 2
    assert tokens - 6 <= centre_last <= tokens + 2       # the last latent listens to the end of the window's audio
    spread_over_21 = audio.token_ranges(tokens, 21)[:7]  # what the reference does: only the first third is used
    assert (spread_over_21[-1][0] + spread_over_21[-1][1]) / 2 < tokens / 2
    single = audio.token_ranges(3, 1)
    assert len(single) == 1 and single[0][1] > single[0][0]


def test_window_samples():
    assert audio.window_samples(0, 21) == (0, 81 * 640)
    assert audio.window_samples(16, 21) == (64 * 640, (64 + 81) * 640)
    assert audio.window_samples(32, 5) == (128 * 640, (128 + 17) * 640)
    samples = np.arange(1000, dtype=np.float32)
    piece = audio.window_audio(samples, 0, 1)
    assert piece.shape == (640,) and piece[-1] == 639
    tail = audio.window_audio(samples, 0, 2)
    assert tail.shape == (5 * 640,) and tail[999] == 999 and not tail[1000:].any()


def test_guidance_combination():
    v = torch.cat([torch.full((1, 2), 1.0), torch.full((1, 2), 3.0), torch.full((1, 2), 4.0)])
    out = sampling.guide(v, audio_scale=5.0, text_scale=3.0)
    assert out.tolist() == [[1 + 5 * 2 + 3 * 1] * 2]
    assert sampling.guide(v, 1.0, 1.0).tolist() == [[4.0, 4.0]]       # scales 1: the fully conditioned row


def test_sigma_table_is_shifted_flow_matching():
    sigmas = sampling.sigma_table(50).double().numpy()
    def shift(s):
        return 5 * s / (1 + 4 * s)

    expected = shift(np.linspace(1.0, shift(0.001), 50))
    np.testing.assert_allclose(sigmas[:-1], expected, atol=1e-6)
    assert sigmas[-1] == 0 and len(sigmas) == 51
    np.testing.assert_allclose(sigmas[[1, 2, -4, -3, -2]], [0.99587, 0.99160, 0.1928, 0.1148, 0.02441], atol=1e-4)
    assert np.all(np.diff(sigmas) < 0)


def _run(latents, steps, overlap, scheme="uniform"):
    calls = []

    def velocity(x, where):
        calls.append((where.step, where.window, where.start, where.end))
        return 0.5 * x + where.window + 1.0                 # each window pulls its latents differently

    torch.manual_seed(0)
    noise = torch.randn(1, 2, latents, 1, 1)
    return noise, sampling.denoise(noise, velocity, steps, overlap, scheme), calls


def _euler(x, where_window, s0, s1):
    return x + (s1 - s0) * (0.5 * x + where_window + 1.0)


def test_first_step_overwrites_the_overlap_later_steps_blend():
    noise, out, calls = _run(30, 1, 5)
    sig = sampling.sigma_table(1)
    assert calls == [(0, 0, 0, 21), (0, 1, 16, 30)]
    torch.testing.assert_close(out[:, :, :16], _euler(noise[:, :, :16], 0, sig[0], sig[1]))
    torch.testing.assert_close(out[:, :, 16:], _euler(noise[:, :, 16:], 1, sig[0], sig[1]))   # no blend at step 0

    noise, out, _ = _run(30, 2, 5)
    sig = sampling.sigma_table(2)
    x1 = torch.cat([_euler(noise[:, :, :16], 0, sig[0], sig[1]), _euler(noise[:, :, 16:], 1, sig[0], sig[1])], 2)
    first = _euler(x1[:, :, :21], 0, sig[1], sig[2])
    second = _euler(x1[:, :, 16:], 1, sig[1], sig[2])
    w = sampling.overlap_weights(5).view(1, 1, -1, 1, 1)
    second[:, :, :5] = second[:, :, :5] * w + first[:, :, 16:21] * (1 - w)
    torch.testing.assert_close(out, torch.cat([first[:, :, :16], second], 2))


def test_overlap_one_and_short_audio_stay_finite():
    for latents, overlap in [(45, 1), (5, 5), (1, 3), (21, 20)]:
        _, out, calls = _run(latents, 3, overlap)
        assert out.shape[2] == latents and torch.isfinite(out).all()
        assert {c[3] for c in calls} >= {latents}
