"""Keyframes and easing, the emotion timeline's chunk assignment and crossfade, 3-branch emotion guidance, auto
blink (pure tensor code and the tiny MoDA DiT)."""
import math

import pytest
import torch

from core.engines.expression.blink import blink_curve
from core.engines.expression.keyframes import Keyframe, interpolate
from core.moda.timeline import Segment, Timeline, chunk_spans
from core.moda import motion as M
from core.moda.generator import MotionGenerator, MotionSettings, crossfade, guided3
from core.errors import BadInputError
from tests.core.test_moda_dit import _reference_like_checkpoint


# ------------------------------------------------------------------------------------------------ keyframes
def test_linear_and_ease_in_out_between_keyframes_hold_outside():
    kfs = [Keyframe.make(1.0, {"smile": 0.0}), Keyframe.make(3.0, {"smile": 1.0}),
           Keyframe.make(5.0, {"smile": 0.0}, easing="ease-in-out")]
    t = torch.tensor([0.0, 1.0, 1.5, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0, 9.0])
    got = interpolate(kfs, t)["smile"]
    # linear 1..3 s: (t - 1) / 2; ease-in-out 3..5 s: 1 - (1 - cos(pi u)) / 2 with u = (t - 3) / 2
    ease = [1 - (1 - math.cos(math.pi * u)) / 2 for u in (0.25, 0.5, 0.75)]
    want = torch.tensor([0.0, 0.0, 0.25, 0.5, 1.0, *ease, 0.0, 0.0])
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_tracks_are_independent_and_hold_easing_steps():
    kfs = [Keyframe.make(0.0, {"smile": 1.0, "yaw": 0.0}), Keyframe.make(2.0, {"yaw": 10.0}),
           Keyframe.make(4.0, {"smile": 0.0, "yaw": 0.0})]
    t = torch.tensor([0.0, 1.0, 2.0, 3.0, 3.9, 4.0])
    got = interpolate(kfs, t)
    # smile: 1 -> 0 linear over 0..4 s, untouched by the yaw-only keyframe at 2 s
    torch.testing.assert_close(got["smile"], torch.tensor([1.0, 0.75, 0.5, 0.25, 0.025, 0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(got["yaw"], torch.tensor([0.0, 5.0, 10.0, 5.0, 0.5, 0.0]), atol=1e-5, rtol=0)
    # "hold": the previous value stays until the keyframe's time, then steps
    held = interpolate([kfs[0], Keyframe.make(4.0, {"smile": 0.0}, easing="hold")], t)["smile"]
    torch.testing.assert_close(held, torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 0.0]))


def test_bad_keyframes():
    with pytest.raises(BadInputError, match="easing"):
        Keyframe.make(1.0, {"smile": 1}, easing="bounce")
    with pytest.raises(BadInputError, match="unknown face edit"):
        Keyframe.make(1.0, {"smil": 1})
    with pytest.raises(BadInputError, match="two keyframes"):
        interpolate([Keyframe.make(1.0, {"smile": 1}), Keyframe.make(1.0, {"smile": 0})], torch.zeros(1))


# ------------------------------------------------------------------------------------------------- timeline
def test_chunks_take_the_majority_segment():
    fps = 25
    # 300 frames = chunks [0,80) [64,144) [128,208) [192,272) [256,300)
    assert chunk_spans(300) == [(0, 80), (64, 144), (128, 208), (192, 272), (256, 300)]
    tl = Timeline.make([
        {"start": 0.0, "end": 4.0, "emotion": "happiness", "strength": 2.0},   # frames 0..99
        {"start": 4.0, "end": 8.0, "emotion": "sadness", "strength": 1.0},     # frames 100..199
    ])
    happy, sad, none = (M.EMOTIONS.index("happiness"), 2.0), (M.EMOTIONS.index("sadness"), 1.0), (M.NO_EMOTION, 0.0)
    # chunk 1 [64,144): 36 happy vs 44 sad; chunk 2 [128,208): 72 sad vs 8 none; chunk 3 [192,272): 8 sad, 72 none
    assert tl.chunk_conditions(300, fps) == [happy, sad, sad, none, none]
    # a tie ([64,144) split 40/40 at frame 104 = 4.16 s) goes to the earlier segment
    tie = Timeline.make([Segment(0.0, 4.16, "anger", 1.0), Segment(4.16, 12.0, "fear", 1.0)])
    assert tie.chunk_conditions(150, fps)[1] == (M.EMOTIONS.index("anger"), 1.0)


def test_bad_timelines():
    open_end = Timeline.make([{"start": 1.0, "emotion": "fear", "strength": 3}])
    assert open_end.chunk_conditions(500, 25)[-1] == (M.EMOTIONS.index("fear"), 3.0)
    with pytest.raises(BadInputError, match="overlap"):
        Timeline.make([Segment(0, 2, "anger", 1), Segment(1, 3, "fear", 1)])
    with pytest.raises(BadInputError, match="unknown emotion"):
        Timeline.make([Segment(0, 2, "joy", 1)])
    with pytest.raises(BadInputError, match="strength"):
        Timeline.make([Segment(0, 2, "anger", -1)])
    with pytest.raises(BadInputError, match="crossfade"):
        Timeline.make([], crossfade=17)
    with pytest.raises(BadInputError, match="needs start"):
        Timeline.make([{"end": 2}])


def test_crossfade_ramp_centred_in_the_overlap():
    a, b = torch.zeros(16, 2), torch.ones(16, 2)
    torch.testing.assert_close(crossfade(a, b, 16), M.blend_overlap(a, b))  # full length = MoDA's blend
    got = crossfade(a, b, 4)[:, 0]
    # ramp over 4 frames starting at (16 - 4) // 2 = 6: 0 .. 0, 0, .25, .5, .75, 1 .. 1
    want = torch.tensor([0.0] * 7 + [0.25, 0.5, 0.75] + [1.0] * 6)
    torch.testing.assert_close(got, want)


# ------------------------------------------------------------------------------------------------ guidance
def test_three_branch_formula_matches_the_reference_form():
    """u + s_a (all - u) + s_e (emo - u) == the reference's u + S_emo (emo - u) + s_a (all - emo), S_emo = s_a + s_e."""
    u, emo, full = torch.randn(3, 1, 4, 5).unbind(0)
    seen = []

    def branches(x, t):
        seen.append(x.shape[0])
        return torch.cat([u, emo, full])

    got = guided3(branches, 1.2, 6.8)(torch.zeros(1, 4, 5), torch.ones(1))
    torch.testing.assert_close(got, u + 8.0 * (emo - u) + 1.2 * (full - emo))
    assert seen == [3]


@pytest.fixture(scope="module")
def tiny_generator():
    return MotionGenerator.from_state_dict(_reference_like_checkpoint(torch.Generator().manual_seed(7)))


def _inputs(frames):
    g = torch.Generator().manual_seed(11)
    return torch.randn(frames, 3, 16, generator=g), torch.randn(63, generator=g) * 0.05, torch.randn(70, generator=g)


def test_strength_zero_reduces_exactly_to_two_branch_output(tiny_generator):
    audio, kp, prev = _inputs(90)  # two chunks
    happy = M.EMOTIONS.index("happiness")

    def gen(frames, emotions=None, **settings):
        return tiny_generator.generate(lambda s, e: audio[s:e], frames, kp, prev,
                                       MotionSettings(cfg_scale=1.2, steps=2, seed=2, **settings), emotions=emotions)

    two = gen(90, emotion=happy)
    assert torch.equal(gen(90, emotion=happy, emotion_scale=0.0), two)
    assert torch.equal(gen(90, emotions=[(happy, 0.0), (happy, 0.0)]), two)  # per-chunk path, strength 0
    assert not torch.allclose(gen(90, emotion=happy, emotion_scale=4.0), two)
    # "none" has emo = u: any strength is the 2-branch output
    assert torch.equal(gen(40, emotion_scale=5.0), gen(40))


def test_sample_chunk_three_branch_equals_hand_guidance(tiny_generator):
    """One Euler step from noise: the velocity is the 3-branch mix of the DiT's three conditioned outputs."""
    audio, kp, prev = _inputs(80)
    noise = torch.randn(1, 80, 70, generator=torch.Generator().manual_seed(3))
    happy = M.EMOTIONS.index("happiness")
    got = tiny_generator.sample_chunk(audio, prev, kp, MotionSettings(emotion=happy, cfg_scale=1.5, steps=1,
                                                                      emotion_scale=3.0), noise)
    dit = tiny_generator.dit
    null = tiny_generator.null_audio(16).reshape(1, 1, 16).expand(80, 3, 16)
    motion_in = torch.cat([prev.reshape(1, 1, 70).expand(1, 80, 70), noise], -1)
    t = torch.tensor([1000.0])
    with torch.no_grad():
        def branch(a, e):
            return dit(motion_in, t, a.unsqueeze(0), torch.tensor([e]), kp.reshape(1, 63))
        u, emo, full = branch(null, M.NO_EMOTION), branch(null, happy), branch(audio, happy)
    v = u + 1.5 * (full - u) + 3.0 * (emo - u)
    torch.testing.assert_close(got, (noise - v)[0], atol=1e-4, rtol=1e-4)  # sigma 1 -> 0 in one step


def test_timeline_changes_condition_per_chunk_and_crossfade(tiny_generator):
    audio, kp, prev = _inputs(150)  # chunks [0,80) [64,144) [128,150)
    happy, sad = M.EMOTIONS.index("happiness"), M.EMOTIONS.index("sadness")
    base = MotionSettings(cfg_scale=1.2, steps=1, seed=1)
    conds = [(happy, 2.0), (sad, 2.0), (sad, 2.0)]
    full = tiny_generator.generate(lambda s, e: audio[s:e], 150, kp, prev, base, emotions=conds)
    sharp = tiny_generator.generate(lambda s, e: audio[s:e], 150, kp, prev, base, emotions=conds, crossfade_frames=2)
    first = tiny_generator.generate(lambda s, e: audio[s:e], 80, kp, prev,
                                    MotionSettings(emotion=happy, emotion_scale=2.0, cfg_scale=1.2, steps=1, seed=1))
    # before the first overlap nothing depends on the later chunks (pose smoothing reaches one frame)
    torch.testing.assert_close(full[:62, :63], first[:62, :63])
    # only the changed boundary's overlap (frames 64..79) differs between the two crossfades, plus the pose
    # smoothing's one-frame reach
    diff = (full - sharp).abs().sum(-1)
    assert diff[:63].max() == 0 and diff[81:].max() == 0 and diff[64:80].max() > 0
    with pytest.raises(ValueError, match="chunk emotions"):
        tiny_generator.generate(lambda s, e: audio[s:e], 150, kp, prev, base, emotions=conds[:2])


# --------------------------------------------------------------------------------------------------- blink
def test_auto_blink_rate_shape_and_seed():
    fps, frames = 25, 25 * 60
    curve = blink_curve(frames, fps, rate_per_min=15, seed=3)
    assert torch.equal(curve, blink_curve(frames, fps, rate_per_min=15, seed=3))
    assert not torch.equal(curve, blink_curve(frames, fps, rate_per_min=15, seed=4))
    closed = (curve <= -19.99)
    starts = (closed[1:] & ~closed[:-1]).sum().item() + int(closed[0])
    assert 10 <= starts <= 20  # about 15 blinks in a minute
    assert curve.max() == 0 and curve.min() == -20
    # one blink: 3 closing frames, 1 shut, 5 opening (0.12 / 0.04 / 0.2 s at 25 fps), cosine ramps
    first = int((curve < 0).nonzero()[0])
    torch.testing.assert_close(curve[first:first + 9], torch.tensor(
        [-5.0, -15.0, -20.0, -20.0, -18.0902, -13.0902, -6.9098, -1.9098, 0.0]), atol=1e-3, rtol=0)
    assert not blink_curve(frames, fps, rate_per_min=0).any()
    with pytest.raises(BadInputError):
        blink_curve(10, fps, rate_per_min=100)
