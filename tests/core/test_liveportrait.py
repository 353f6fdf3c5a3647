"""LivePortrait networks, strict checkpoint loading, pose algebra and the batched renderer (tiny random weights)."""
import math

import numpy as np
import pytest
import torch

from core.liveportrait import (
    LivePortraitConfig,
    LivePortraitRenderer,
    bins_to_degrees,
    image_to_tensor,
    rotation_matrix,
    tiny_config,
    transform_keypoints,
)
from core.liveportrait import weights as lpw
from core.errors import BadInputError


@pytest.fixture(scope="module")
def lp_root(tmp_path_factory):
    from core.weights import TEST_MARKER

    root = tmp_path_factory.mktemp("lp")
    lpw.make_test_checkpoints(root)
    (root / TEST_MARKER).write_text("tiny random test weights\n")  # what the weights driver writes
    return root


@pytest.fixture(scope="module")
def renderer(lp_root):
    return LivePortraitRenderer.from_checkpoints(lp_root, cfg=tiny_config())


def test_official_config_reproduces_reference_key_counts_and_sizes():
    # Key counts and parameter counts (millions) of the official models (LivePortrait speed.md / state dicts).
    with torch.device("meta"):
        nets = lpw.build_networks(LivePortraitConfig())
    expected = {"appearance": (107, 0.84), "motion": (212, 28.12), "warping": (97, 45.53), "spade": (182, 55.37)}
    for name, (keys, params) in expected.items():
        assert len(nets[name].state_dict()) == keys, name
        assert round(sum(p.numel() for p in nets[name].parameters()) / 1e6, 2) == params, name
    spade = nets["spade"].state_dict()
    assert {"G_middle_0.conv_0.weight_orig", "G_middle_0.conv_0.weight_u", "G_middle_0.conv_0.weight_v",
            "up_0.conv_s.weight_orig"} <= set(spade)
    assert "up_0.conv_s.bias" not in spade
    assert spade["fc.weight"].shape == (512, 256, 3, 3)
    motion = nets["motion"].state_dict()
    assert motion["detector.fc_pitch.weight"].shape == (66, 768)
    assert motion["detector.fc_kp.weight"].shape == (63, 768)
    total_mlp = sum(p.numel() for n in ("stitching", "lip", "eye") for p in nets[n].parameters())
    assert round(total_mlp / 1e6, 2) == 0.23


def test_test_checkpoints_use_official_paths_and_stitching_layout(lp_root):
    for item in lpw.FILES:
        assert (lp_root / item.local).is_file(), item.local
        assert item.repo_id == "KwaiVGI/LivePortrait" and item.filename == item.local
    bundle = torch.load(lp_root / lpw.STITCHING, weights_only=True)
    assert set(bundle) == {"retarget_shoulder", "retarget_mouth", "retarget_eye"}
    assert all(k.startswith("module.mlp.") for sub in bundle.values() for k in sub)
    assert bundle["retarget_eye"]["module.mlp.0.weight"].shape == (256, 66)


def test_strict_load_puts_file_tensors_into_the_networks(lp_root, renderer):
    state = torch.load(lp_root / lpw.WARPING, weights_only=True)
    key = "dense_motion_network.hourglass.decoder.norm.running_var"
    assert torch.equal(renderer.warping_module.state_dict()[key], state[key])
    bundle = torch.load(lp_root / lpw.STITCHING, weights_only=True)
    assert torch.equal(renderer.retarget_lip_net.mlp[0].weight, bundle["retarget_mouth"]["module.mlp.0.weight"])


@pytest.mark.parametrize("rel,change", [
    (lpw.SPADE, "drop"), (lpw.SPADE, "extra"), (lpw.MOTION, "drop"), (lpw.APPEARANCE, "extra"),
    (lpw.WARPING, "shape"), (lpw.STITCHING, "drop"),
])
def test_missing_extra_or_misshapen_keys_fail(lp_root, tmp_path, rel, change):
    import shutil

    root = tmp_path / "ckpt"
    shutil.copytree(lp_root, root)
    state = torch.load(root / rel, weights_only=True)
    target = state["retarget_eye"] if rel == lpw.STITCHING else state
    key = min(target)
    if change == "drop":
        del target[key]
    elif change == "extra":
        target["unexpected.weight"] = torch.zeros(1)
    else:
        target[key] = torch.zeros(1, *target[key].shape)
    torch.save(state, root / rel)
    with pytest.raises(BadInputError, match="does not match"):
        LivePortraitRenderer.from_checkpoints(root, cfg=tiny_config())


def test_network_output_shapes_at_tiny_size(renderer):
    cfg = renderer.cfg
    x = torch.rand(2, 3, 256, 256)
    with torch.no_grad():
        f_s = renderer.appearance_feature_extractor(x)
        assert f_s.shape == (2, cfg.appearance.reshape_channel, cfg.appearance.reshape_depth, 64, 64)
        heads = renderer.motion_extractor(x)
        assert {k: tuple(v.shape) for k, v in heads.items()} == {
            "pitch": (2, 66), "yaw": (2, 66), "roll": (2, 66), "t": (2, 3), "exp": (2, 63), "scale": (2, 1),
            "kp": (2, 63)}
        kp = torch.randn(2, 21, 3) * 0.2
        warped = renderer.warping_module(f_s, kp_driving=kp * 1.05, kp_source=kp)
        width = 4 * cfg.warping.block_expansion
        assert warped["out"].shape == (2, width, 64, 64)
        assert warped["occlusion_map"].shape == (2, 1, 64, 64)
        assert warped["deformation"].shape == (2, cfg.appearance.reshape_depth, 64, 64, 3)
        img = renderer.spade_generator(warped["out"])
        assert img.shape == (2, 3, 512, 512) and 0 <= img.min() and img.max() <= 1
        assert renderer.stitching(torch.randn(2, 126)).shape == (2, 65)
        assert renderer.retarget_lip_net(torch.randn(2, 65)).shape == (2, 63)
        assert renderer.retarget_eye_net(torch.randn(2, 66)).shape == (2, 63)


def test_identical_keypoints_warp_with_the_identity_deformation(renderer):
    # With x_d == x_s every sparse motion is the identity grid, so the blended deformation is the identity grid.
    f_s = torch.randn(1, 4, 4, 64, 64)
    kp = torch.randn(1, 21, 3) * 0.3
    with torch.no_grad():
        deformation = renderer.warping_module(f_s, kp_driving=kp, kp_source=kp)["deformation"]
    lin = torch.linspace(-1, 1, 64)
    assert torch.allclose(deformation[0, 0, :, :, 0], lin.expand(64, 64), atol=1e-5)
    assert torch.allclose(deformation[0, 0, :, :, 1], lin[:, None].expand(64, 64), atol=1e-5)
    assert torch.allclose(deformation[0, :, 0, 0, 2], torch.linspace(-1, 1, 4), atol=1e-5)


def test_pose_bins_to_degrees():
    logits = torch.full((3, 66), -1e4)
    logits[0, 40] = 0  # one-hot at bin 40 -> 40 * 3 - 97.5
    logits[1] = 0      # uniform -> mean index 32.5 -> 0 degrees
    logits[2, 10] = logits[2, 11] = 0  # half/half -> 10.5 * 3 - 97.5
    assert torch.allclose(bins_to_degrees(logits), torch.tensor([22.5, 0.0, -66.0]), atol=1e-4)


def test_rotation_matrix_matches_hand_computed_axes():
    def R(p, y, r):
        return rotation_matrix(torch.tensor([p]), torch.tensor([y]), torch.tensor([r]))[0]

    # R = (Rz Ry Rx)^T: single-axis rotations by 90 degrees, transposed.
    assert torch.allclose(R(90., 0., 0.), torch.tensor([[1., 0, 0], [0, 0, 1], [0, -1, 0]]), atol=1e-6)
    assert torch.allclose(R(0., 90., 0.), torch.tensor([[0., 0, -1], [0, 1, 0], [1, 0, 0]]), atol=1e-6)
    assert torch.allclose(R(0., 0., 90.), torch.tensor([[0., 1, 0], [-1, 0, 0], [0, 0, 1]]), atol=1e-6)
    # Row-vector use: with roll 90 the x axis maps to +y (image down).
    assert torch.allclose(torch.tensor([[1., 0, 0]]) @ R(0., 0., 90.), torch.tensor([[0., 1, 0]]), atol=1e-6)
    # Composition order: pitch applied first, then yaw, then roll (for column vectors), all transposed.
    p, y, r = (math.radians(a) for a in (30.0, -45.0, 60.0))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    expected = torch.tensor((rz @ ry @ rx).T, dtype=torch.float32)
    assert torch.allclose(R(30., -45., 60.), expected, atol=1e-6)
    batch = rotation_matrix(torch.tensor([30., 0.]), torch.tensor([-45., 0.]), torch.tensor([60., 0.]))
    assert torch.allclose(batch[1], torch.eye(3), atol=1e-6) and torch.allclose(batch[0], expected, atol=1e-6)


def test_transform_keypoints_scales_rotates_and_ignores_tz():
    kp = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    exp = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])
    rot = rotation_matrix(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([90.0]))
    x = transform_keypoints(kp, rot, exp, torch.tensor([[2.0]]), torch.tensor([[0.5, 0.25, 9.0]]))
    # kp0 @ R = (0, 1, 0); + exp -> (0, 2, 0); * 2 -> (0, 4, 0); + (0.5, 0.25, 0)
    assert torch.allclose(x, torch.tensor([[[0.5, 4.25, 0.0], [0.5, 0.25, 2.0]]]))


def test_extract_source_is_consistent_with_the_motion_heads(renderer):
    img = torch.rand(1, 3, 256, 256)
    src = renderer.extract_source(img)
    with torch.no_grad():
        heads = renderer.motion_extractor(img)
    assert torch.allclose(src.yaw, bins_to_degrees(heads["yaw"]))
    assert src.f_s.shape == (1, 4, 4, 64, 64) and src.kp.shape == (1, 21, 3)
    rot = rotation_matrix(src.pitch, src.yaw, src.roll)
    manual = src.scale[:, :, None] * (heads["kp"].view(1, 21, 3) @ rot + heads["exp"].view(1, 21, 3))
    manual[..., :2] += heads["t"][:, None, :2]
    assert torch.allclose(src.x_s, manual, atol=1e-6)
    mv = src.motion_vector()
    assert mv.shape == (1, 70) and mv[0, 66] == 0 and torch.allclose(mv[0, 67:], torch.cat([src.pitch, src.yaw,
                                                                                           src.roll]))
    # compose_keypoints with the source's own motion gives x_s back
    again = renderer.compose_keypoints(src, src.exp, src.pitch, src.yaw, src.roll, src.t)
    assert torch.allclose(again, src.x_s, atol=1e-6)
    with pytest.raises(BadInputError):
        renderer.extract_source(torch.rand(2, 3, 256, 256))


def test_stitch_adds_mlp_offsets_and_a_shared_xy_shift(renderer):
    x_s, x_d = torch.randn(1, 21, 3), torch.randn(3, 21, 3)
    with torch.no_grad():
        delta = renderer.stitching(torch.cat([x_s.expand(3, -1, -1).reshape(3, -1), x_d.reshape(3, -1)], 1))
    out = renderer.stitch(x_s, x_d)
    expected = x_d + delta[:, :63].view(3, 21, 3)
    expected[..., 0] += delta[:, 63:64]
    expected[..., 1] += delta[:, 64:65]
    assert torch.allclose(out, expected, atol=1e-6)
    lip = renderer.retarget_lip(x_s, torch.tensor([[0.1, 0.5]]))
    eye = renderer.retarget_eye(x_s, torch.tensor([[0.3, 0.3, 0.1]]))
    assert lip.shape == eye.shape == (1, 21, 3)


def test_render_batches_match_single_frames(renderer):
    src = renderer.extract_source(image_to_tensor(np.random.default_rng(0).integers(0, 255, (256, 256, 3),
                                                                                     dtype=np.uint8)))
    x_d = src.x_s + 0.02 * torch.randn(3, 21, 3)
    frames = renderer.render(src, x_d, batch_size=2)
    assert frames.shape == (3, 3, 512, 512) and frames.dtype == torch.float32
    single = renderer.render(src, x_d[2:3], batch_size=1)
    assert torch.allclose(frames[2:3], single, atol=1e-5)
    assert not torch.allclose(frames[0], frames[2], atol=1e-4)  # different keypoints render differently
    with pytest.raises(BadInputError):
        renderer.render(src, torch.zeros(2, 20, 3))


def test_reduced_precision_autocast_stays_close(lp_root):
    # bf16 autocast is the CPU stand-in for the GPU fp16 path: same code, finite fp32 output, close to fp32.
    # (Random weights amplify bf16 rounding, hence a correlation bound rather than a tight tolerance.)
    lo = LivePortraitRenderer.from_checkpoints(lp_root, dtype=torch.bfloat16)
    hi = LivePortraitRenderer.from_checkpoints(lp_root)
    img = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    src_hi, src_lo = hi.extract_source(img), lo.extract_source(img)
    assert (src_hi.x_s - src_lo.x_s).abs().max() < 0.05
    x_d = src_hi.x_s + 0.02
    a, b = hi.render(src_hi, x_d), lo.render(src_lo, x_d)
    assert b.dtype == torch.float32 and torch.isfinite(b).all()
    assert torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1] > 0.8  # 0.85 seen in one full-suite run
    assert (a - b).abs().mean() < 0.1


def test_renderer_comes_from_the_model_cache(lp_root):
    from core.cache import ModelCache

    cache = ModelCache()
    first = LivePortraitRenderer.cached(lp_root, cache=cache)
    assert LivePortraitRenderer.cached(lp_root, cache=cache) is first and cache.loads == 1


def test_test_checkpoints_can_be_written_twice_into_one_folder(tmp_path):
    """`weights --make-test-checkpoints DIR` run again over the same folder: MoDA's copies are hard links to KwaiVGI's
    files after the first run, and the second run must not copy a file onto itself."""
    from core import weights
    from core.engines.portrait import weights as PW

    PW.make_test_checkpoints(tmp_path)
    PW.make_test_checkpoints(tmp_path)
    assert weights.missing("portrait", tmp_path) == []
