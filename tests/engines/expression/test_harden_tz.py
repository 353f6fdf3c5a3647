"""Issue 16, reference gap 3: a still expression edit composes its driving keypoints as LivePortrait's image
retargeting does (``gradio_pipeline.py``: ``x_d_new = scale_new * (x_c_s @ R_d_new + delta_new) + t_new`` with
``t_new = x_s_info['t']``, all of x, y and z), while the source keypoints and the video pipeline drop tz."""
import torch

from core.engines.expression.edits import EditPlan
from core.engines.expression.render import PreparedFace, still_keypoints
from core.liveportrait import LivePortraitRenderer, rotation_matrix, tiny_config, transform_keypoints
from core.liveportrait import weights as lpw


def test_transform_keypoints_adds_tz_only_when_asked():
    g = torch.Generator().manual_seed(0)
    kp, exp = torch.randn(2, 21, 3, generator=g), torch.randn(2, 21, 3, generator=g) * 0.1
    rot = rotation_matrix(torch.tensor([3.0, -5.0]), torch.tensor([10.0, 2.0]), torch.tensor([-4.0, 1.0]))
    scale, t = torch.tensor([[1.3], [0.9]]), torch.tensor([[0.02, -0.03, 0.0198], [0.01, 0.04, -0.05]])
    full = transform_keypoints(kp, rot, exp, scale, t, translate_z=True)
    torch.testing.assert_close(full, scale[:, :, None] * (kp @ rot + exp) + t[:, None, :])  # the reference's x_d_new
    dropped = transform_keypoints(kp, rot, exp, scale, t)  # the reference's transform_keypoint (x_s): no tz
    torch.testing.assert_close(full - dropped, (t * torch.tensor([0.0, 0.0, 1.0]))[:, None, :].expand_as(full))


def test_a_still_edit_keeps_the_heads_z_translation(tmp_path):
    lpw.make_test_checkpoints(tmp_path)
    r = LivePortraitRenderer.from_checkpoints(tmp_path, cfg=tiny_config())
    src = r.extract_source(torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1)))
    src.t[0, 2] = 0.0198  # the size of the gap the issue measured
    face = PreparedFace(image=None, crop=None, source=src, eye_ratios=(0.3, 0.3), lip_ratio=0.1)  # no retargeting
    got = still_keypoints(r, face, EditPlan())
    reference = src.scale.reshape(1, 1, 1) * (src.kp @ src.rotation + src.exp.reshape(1, 21, 3)) + src.t[:, None, :]
    torch.testing.assert_close(got, r.stitch(src.x_s, reference))
    without_tz = reference - torch.tensor([0.0, 0.0, 0.0198])
    assert (got - r.stitch(src.x_s, without_tz)).abs().max() > 1e-3
