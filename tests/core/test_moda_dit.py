"""MoDA motion DiT: official key layout, strict loading, and outputs equal to the reference implementation.

Reference values were produced by MoDA's own TalkingHeadDiT / MotionDiffusion.sample (commit 7049030) with the
same seeded weights and inputs (torch 2.14 CPU); our implementation must reproduce them.
"""
import math

import pytest
import torch

from core.moda import sampler
from core.moda.dit import DiTConfig, TalkingHeadDiT, apply_rope, rope_tables, timestep_embedding
from core.moda.generator import NULL_AUDIO_SEED, MotionGenerator, MotionSettings
from core.errors import BadInputError

TINY = DiTConfig(audio_in=3 * 16, hidden=64, heads=4)


def seeded_state(module: torch.nn.Module, generator: torch.Generator) -> dict:
    """Every tensor random (the reference zero-inits adaLN, which would make the blocks identities)."""
    return {k: torch.randn(v.shape, generator=generator) * 0.2 for k, v in sorted(module.state_dict().items())}


def test_official_layout_408_keys_373m_params():
    with torch.device("meta"):
        dit = TalkingHeadDiT(DiTConfig())
    sd = dit.state_dict()
    assert len(sd) == 408
    assert sum(v.numel() for v in sd.values()) == 372_983_878
    shapes = {
        "motion_embedder.mlp.0.weight": (768, 140),
        "audio_embedder.proj1.weight": (768, 9216),
        "audio_embedder.norm.weight": (768,),
        "emo_embedder.embedding_table.weight": (9, 768),
        "time_embedder.mlp.0.weight": (768, 256),
        "blocks4.2.attn1.qkv_au3.weight": (2304, 768),
        "blocks4.0.attn1.au_k_norm2.weight": (64,),
        "blocks4.1.adaLN_modulation_audio3.1.weight": (4608, 768),
        "blocks2.5.attn1.au_q_norm.weight": (64,),
        "blocks2.0.audio_mlp.fc2.weight": (768, 3072),
        "blocks.11.qkv_xs.weight": (3 * 768 + 3072, 768),
        "blocks.0.linear2.weight": (768, 3840),
        "blocks.3.adaLN_modulation_xs.1.weight": (3 * 768, 768),
        "final_layer.linear.weight": (70, 768),
        "final_layer.adaLN_modulation.1.bias": (1536,),
    }
    for key, shape in shapes.items():
        assert tuple(sd[key].shape) == shape, key
    assert DiTConfig.from_state_dict(sd) == DiTConfig()


def test_forward_matches_reference_implementation():
    g = torch.Generator().manual_seed(1234)
    dit = TalkingHeadDiT(TINY).eval()
    dit.load_state_dict(seeded_state(dit, g), strict=True)
    motion = torch.randn(2, 80, 140, generator=g)
    audio = torch.randn(2, 80, 1, 3, 16, generator=g)
    kp = torch.randn(2, 63, generator=g) * 0.1
    with torch.no_grad():
        out = dit(motion, torch.tensor([1000.0, 445.0]), audio, torch.tensor([8, 3]), kp)
    assert out.shape == (2, 80, 70)
    assert out.sum().item() == pytest.approx(-3635.3293, rel=1e-4)
    assert out.abs().sum().item() == pytest.approx(46366.227, rel=1e-5)
    torch.testing.assert_close(out[0, 0, :4], torch.tensor([-1.6542175, -6.8341341, 1.2917123, -1.9446972]),
                               atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(out[1, 79, -3:], torch.tensor([7.7366929, -1.0782899, -6.2562537]),
                               atol=2e-4, rtol=1e-4)


def _reference_like_checkpoint(generator: torch.Generator) -> dict:
    """A MotionDiffusion-style state dict: talking_head_dit.* + the optional extras a CPU build registers."""
    dit = TalkingHeadDiT(TINY)
    sd = {f"talking_head_dit.{k}": v for k, v in seeded_state(dit, generator).items()}
    sd["null_audio_feat"] = torch.randn(1, 1, 1, 1, 16, generator=generator)
    sd["null_motion_feat"] = torch.zeros(1, 1, 70)
    sd["scheduler.sigmas"] = torch.arange(1, 1001, dtype=torch.float32) / 1000
    return sd


def test_chunked_sampling_matches_reference():
    """145 frames = 3 chunks with CFG 1.2, emotion 4, seeded noise: MotionDiffusion.sample's exact output."""
    g = torch.Generator().manual_seed(1234)
    sd = _reference_like_checkpoint(g)
    del sd["null_motion_feat"]
    gen = MotionGenerator.from_state_dict(sd)
    assert gen.null_audio_from_checkpoint
    audio = torch.randn(145, 3, 16, generator=g)
    kp = torch.randn(1, 63, generator=g) * 0.05
    prev = torch.randn(1, 1, 70, generator=g)
    out = gen.generate(lambda s, e: audio[s:e], 145, kp[0], prev[0, 0],
                       MotionSettings(emotion=4, cfg_scale=1.2, steps=10, seed=5))
    assert out.shape == (145, 70)
    assert out.abs().sum().item() == pytest.approx(31072.564, rel=1e-4)
    torch.testing.assert_close(out[0, :3], torch.tensor([4.5014715, 3.8844981, -3.0838432]), atol=5e-4, rtol=1e-4)
    torch.testing.assert_close(out[70, 65:], torch.tensor([-0.3428472, -3.8829944, -4.5385923, 6.0968423, 3.9696512]),
                               atol=5e-4, rtol=1e-4)
    torch.testing.assert_close(out[144, -3:], torch.tensor([-4.0309401, 4.6656981, 2.5134883]), atol=5e-4, rtol=1e-4)


@pytest.mark.parametrize("frames", [30, 80, 145])  # shorter than one chunk, exactly one, several
def test_generate_covers_every_frame_in_64_frame_strides(frames):
    g = torch.Generator().manual_seed(0)
    gen = MotionGenerator.from_state_dict(_reference_like_checkpoint(g))
    audio = torch.randn(frames, 3, 16, generator=g)
    kp, prev = torch.randn(63, generator=g) * 0.05, torch.randn(70, generator=g)
    calls = []

    def features(start, end):
        calls.append((start, end))
        return audio[start:end]

    out = gen.generate(features, frames, kp, prev, MotionSettings(steps=1, cfg_scale=1.0))
    assert out.shape == (frames, 70) and torch.isfinite(out).all()
    assert calls == [(64 * i, min(64 * i + 80, frames)) for i in range(len(calls))] and calls[-1][1] == frames


def test_noise_comes_from_the_seed():
    g = torch.Generator().manual_seed(0)
    gen = MotionGenerator.from_state_dict(_reference_like_checkpoint(g))
    audio, kp, prev = torch.randn(40, 3, 16, generator=g), torch.zeros(63), torch.zeros(70)

    def run(seed):
        return gen.generate(lambda s, e: audio[s:e], 40, kp, prev, MotionSettings(steps=2, seed=seed))

    a = run(3)
    torch.testing.assert_close(run(3), a)
    assert not torch.allclose(run(4), a)


def test_strict_loading_rejects_missing_and_extra_keys():
    sd = _reference_like_checkpoint(torch.Generator().manual_seed(0))
    missing = dict(sd)
    del missing["talking_head_dit.blocks2.3.attn1.au_k_norm.weight"]
    with pytest.raises(BadInputError, match="missing"):
        MotionGenerator.from_state_dict(missing)
    extra = dict(sd, **{"talking_head_dit.blocks.0.extra.weight": torch.zeros(1)})
    with pytest.raises(BadInputError, match="unexpected"):
        MotionGenerator.from_state_dict(extra)
    stray = dict(sd, optimizer_step=torch.zeros(1))
    with pytest.raises(BadInputError, match="unexpected keys"):
        MotionGenerator.from_state_dict(stray)
    wrong = dict(sd)
    wrong["talking_head_dit.final_layer.linear.weight"] = torch.zeros(69, 64)
    with pytest.raises(BadInputError, match="mismatch"):
        MotionGenerator.from_state_dict(wrong)


def test_missing_null_audio_is_drawn_from_a_fixed_seed():
    sd = _reference_like_checkpoint(torch.Generator().manual_seed(0))
    del sd["null_audio_feat"]
    gen = MotionGenerator.from_state_dict(sd)
    assert not gen.null_audio_from_checkpoint
    expected = torch.randn(16, generator=torch.Generator().manual_seed(NULL_AUDIO_SEED))
    torch.testing.assert_close(gen.null_audio(16), expected)


def test_rope_is_interleaved_pairs_with_theta_256():
    cos, sin = rope_tables(3, 4)
    x = torch.arange(1.0, 5.0).reshape(1, 1, 1, 4).repeat(1, 3, 1, 1)  # 3 positions, 1 head, dims (1,2,3,4)
    out = apply_rope(x, cos, sin)
    f1 = 1 / 256 ** 0.5  # second pair's frequency
    pos = 2
    expected = torch.tensor([1 * math.cos(pos) - 2 * math.sin(pos), 2 * math.cos(pos) + 1 * math.sin(pos),
                             3 * math.cos(pos * f1) - 4 * math.sin(pos * f1),
                             4 * math.cos(pos * f1) + 3 * math.sin(pos * f1)])
    torch.testing.assert_close(out[0, pos, 0], expected)
    torch.testing.assert_close(out[0, 0, 0], x[0, 0, 0])


def test_timestep_embedding_is_cos_then_sin():
    emb = timestep_embedding(torch.tensor([0.0, 1000.0]), 8)
    torch.testing.assert_close(emb[0], torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0]))
    freqs = torch.exp(-math.log(10000) * torch.arange(4) / 4)
    torch.testing.assert_close(emb[1], torch.cat([torch.cos(1000 * freqs), torch.sin(1000 * freqs)]))


def test_sampler_schedule_and_exact_straight_path():
    assert sampler.timesteps(10).round().tolist() == [1000, 889, 778, 667, 556, 445, 334, 223, 112, 1]
    x0, noise = torch.randn(1, 80, 70), torch.randn(1, 80, 70)
    # A perfect model's velocity on the straight path is noise - x0: the Euler sum of the dt's is exactly -1.
    for steps in (1, 2, 10):
        torch.testing.assert_close(sampler.sample(lambda x, t: noise - x0, noise, steps), x0)
    guided = sampler.guided(lambda x, t: torch.cat([torch.zeros_like(x[:1]), torch.ones_like(x[:1])]), 1.2)
    torch.testing.assert_close(guided(x0, torch.tensor([1000.0])), torch.full_like(x0, 1.2))
