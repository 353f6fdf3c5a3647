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
    dit = memory.prepare(transformer.AvatarTransformer(transformer.TINY), "fp8")
    t5 = memory.prepare(text.build(text.TINY), "fp8")
    assert dit.blocks[1].ffn.net[2].weight.dtype == fp8.FP8
    assert t5.encoder.block[0].layer[0].SelfAttention.q.weight.dtype == fp8.FP8
    assert t5.encoder.block[0].layer[1].DenseReluDense.wo.weight.dtype == torch.float32
    with torch.no_grad():
        assert torch.isfinite(t5(input_ids=torch.tensor([[5, 6, 7, 1]])).last_hidden_state).all()
    full = memory.prepare(transformer.AvatarTransformer(transformer.TINY), "full")
    assert full.blocks[0].attn1.to_q.weight.dtype == torch.float32
    assert memory.PLACEMENT == {"full": "resident", "offload": "offload", "fp8": "offload",
                                "sequential": "sequential", "low": "sequential"}


def test_every_mode_runs_end_to_end_on_the_cpu(avatar_checkpoints, tmp_path):
    """Same seed, same request: the placements compute the same video; fp8 storage stays close to it."""
    from pathlib import Path

    import numpy as np
    import skimage
    import soundfile as sf

    from core.audio.options import AudioOptions
    from core.cache import default_cache
    from core.engines.avatar import pipeline
    from core.engines.avatar.request import AvatarRequest
    from core.jobs import run_job
    from core.media import iter_video_frames

    t = np.arange(8000) / 16000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000)
    image = str(Path(skimage.__file__).parent / "data" / "astronaut.png")
    videos = {}
    for mode in memory.MODES:
        req = AvatarRequest(image=image, audio=AudioOptions(str(tmp_path / "a.wav"), rest="off"), size="32x32", steps=2,
                            memory=mode, checkpoints=str(avatar_checkpoints), crf=0)
        result = run_job("avatar", pipeline.run, req)
        videos[mode] = np.stack(list(iter_video_frames(result.output))).astype(float)
    placements = {key[3]: entry for key, entry in default_cache()._items.items()
                  if isinstance(key, tuple) and key[0] == "avatar-dit"}
    assert {m: placements[m].placement for m in memory.MODES} == {m: memory.PLACEMENT[m] for m in memory.MODES}
    for mode in ("offload", "sequential"):
        assert np.abs(videos[mode] - videos["full"]).max() <= 1
    assert videos["fp8"].shape == videos["full"].shape
    assert np.abs(videos["fp8"] - videos["full"]).mean() < 20
