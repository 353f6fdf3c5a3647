"""The eye and lip retargeting MLPs, loaded strictly from the official stitching file (tiny random weights), add
exactly their own output and only when the target differs from the source's ratio (LivePortrait's retargeting
tab)."""
import pytest
import torch

from core.errors import BadInputError
from core.liveportrait import LivePortraitRenderer, tiny_config
from core.liveportrait import expression as E
from core.liveportrait import weights as lpw


@pytest.fixture(scope="module")
def renderer(tmp_path_factory):
    root = tmp_path_factory.mktemp("lp")
    lpw.make_test_checkpoints(root)
    return root, LivePortraitRenderer.from_checkpoints(root, cfg=tiny_config())


def test_eye_and_lip_mlps_load_strictly_from_the_official_bundle(renderer, tmp_path):
    import shutil

    root, r = renderer
    bundle = torch.load(root / lpw.STITCHING, weights_only=True)
    torch.testing.assert_close(r.retarget_eye_net.mlp[0].weight, bundle["retarget_eye"]["module.mlp.0.weight"])
    torch.testing.assert_close(r.retarget_lip_net.mlp[0].weight, bundle["retarget_mouth"]["module.mlp.0.weight"])
    assert r.retarget_eye_net.mlp[0].weight.shape[1] == 66 and r.retarget_lip_net.mlp[0].weight.shape[1] == 65
    broken = tmp_path / "lp"
    shutil.copytree(root, broken)
    del bundle["retarget_eye"]["module.mlp.0.bias"]
    torch.save(bundle, broken / lpw.STITCHING)
    with pytest.raises(BadInputError, match="does not match"):
        LivePortraitRenderer.from_checkpoints(broken, cfg=tiny_config())


def test_offsets_are_each_mlp_output_only_when_the_target_moves(renderer):
    _, r = renderer
    x_s = torch.randn(1, 21, 3, generator=torch.Generator().manual_seed(0)) * 0.1
    eyes, lip = (0.31, 0.27), 0.12
    # targets equal to the source ratios (two decimals, as the tab's sliders): nothing runs, nothing moves
    same = E.retarget_offsets(r, x_s, eyes, lip, E.RetargetTargets(eyes=0.29, lips=0.12))
    assert not same.any()
    assert not E.retarget_offsets(r, x_s, eyes, lip, E.RetargetTargets()).any()
    eye_only = E.retarget_offsets(r, x_s, eyes, lip, E.RetargetTargets(eyes=0.05), batch=2)
    want_eye = r.retarget_eye(x_s, torch.tensor([[0.31, 0.27, 0.05]]))
    torch.testing.assert_close(eye_only, want_eye.expand(2, -1, -1))
    lip_only = E.retarget_offsets(r, x_s, eyes, lip, E.RetargetTargets(lips=0.6))
    want_lip = r.retarget_lip(x_s, torch.tensor([[0.12, 0.6]]))
    torch.testing.assert_close(lip_only, want_lip)
    both = E.retarget_offsets(r, x_s, eyes, lip, E.RetargetTargets(eyes=0.05, lips=0.6))
    torch.testing.assert_close(both, want_eye + want_lip)
    with pytest.raises(BadInputError, match="0.0..0.8"):
        E.RetargetTargets(eyes=0.9)
