"""Memory modes: estimates per mode, fp8 storage on prepare, and the sequential-offload partition of a model."""
import pytest
import torch

from core.engines.avatar import memory
from core.wan import fp8, text, transformer

pytest_plugins = ["tests.avatar_support"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_estimates_fall_from_full_to_sequential():
    for width, height in [(512, 512), (480, 832), (832, 480)]:
        est = {mode: memory.estimate_vram_gb(mode, width, height) for mode in memory.MODES}
        assert est["full"] > est["offload"] > est["fp8"] > est["sequential"] > 1
        assert 15 < est["full"] < 40                                   # reported: 18-29 GB for model_full_load
    assert memory.estimate_vram_gb("offload", 832, 480) > memory.estimate_vram_gb("offload", 512, 512)


def test_fp8_mode_stores_dit_and_t5_weights_in_fp8():
    place = memory.Placement("fp8", torch.device("cpu"))
    dit = place.prepare(transformer.AvatarTransformer(transformer.TINY), fp8=True)
    t5 = place.prepare(text.build(text.TINY), fp8=True)
    assert dit.blocks[1].ffn.net[2].weight.dtype == fp8.FP8
    assert t5.encoder.block[0].layer[0].SelfAttention.q.weight.dtype == fp8.FP8
    assert t5.encoder.block[0].layer[1].DenseReluDense.wo.weight.dtype == torch.float32
    ids = torch.tensor([[5, 6, 7, 1]])
    with torch.no_grad(), place.use(t5):
        assert torch.isfinite(t5(input_ids=ids).last_hidden_state).all()
    full = memory.Placement("full", torch.device("cpu")).prepare(transformer.AvatarTransformer(transformer.TINY), fp8=True)
    assert full.blocks[0].attn1.to_q.weight.dtype == torch.float32


def test_sequential_offload_moves_every_parameter_exactly_once():
    for model in (transformer.AvatarTransformer(transformer.TINY), text.build(text.TINY)):
        blocks = memory._block_lists(model)
        assert len(blocks) == 1 and len(blocks[0]) == 2
        rest = set()
        for item in memory._rest(model, blocks):
            rest |= {id(p) for p in item.parameters()} if isinstance(item, torch.nn.Module) else {id(item)}
        in_blocks = {id(p) for p in blocks[0].parameters()}
        assert not rest & in_blocks                                   # blocks only move one at a time
        assert rest | in_blocks >= {id(p) for p in model.parameters()}
