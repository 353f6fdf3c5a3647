"""Issue 12: the photo engine's paste-back against LivePortrait's arithmetic (derivation: tests/golden/)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.liveportrait.pasteback import to_uint8
from tests.golden import portrait_pasteback as G


def test_render_is_truncated_to_uint8_like_parse_output():
    render = torch.tensor([-0.2, 0.0, 0.5, 0.99999, 1.0, 1.3, 200 / 255]).view(1, 1, 1, 7).expand(1, 3, 1, 7)
    assert to_uint8(render)[0, 0, :, 0].tolist() == [0, 0, 127, 254, 255, 255, 200]


def test_pasted_frames_are_within_one_level_of_the_reference():
    photo, m_c2o, render = G.inputs(side=512)
    ref = G.reference_paste(render, photo, m_c2o)
    worst, share = G.diff(G.now(render, photo, m_c2o), ref)
    assert worst <= 1 and share < 1e-3  # 0.008 % (was up to 12 on 24 % of values, tests/golden/portrait_pasteback.py)


def test_null_audio_note_is_logged_not_warned(tmp_path, monkeypatch):
    """Item 8: a seeded null-audio vector is a fact for the log, not a warning the creator cannot act on."""
    from core.jobs import JobContext
    from core.moda import pipeline as P
    from core.moda.generator import MotionSettings

    class Stop(Exception):
        pass

    def stop(*args):
        raise Stop

    no_null_audio = SimpleNamespace(null_audio_from_checkpoint=False)
    monkeypatch.setattr(P, "_models", lambda root, device, placement: (no_null_audio, None))
    monkeypatch.setattr(P, "AudioFeatures", stop)
    ctx = JobContext(tmp_path)
    with pytest.raises(Stop):
        P.generate_motion(tmp_path, None, np.zeros(16000, np.float32), 25, "cpu", ctx, MotionSettings())
    assert ctx.warnings == []
    assert P.NULL_AUDIO_NOTE in (tmp_path / "log.txt").read_text() and "reproducible" in P.NULL_AUDIO_NOTE


def test_photo_engine_manifest_lists_modas_own_liveportrait_copies_at_official_paths():
    """Item 7: MoDA's configs load decode/v1/first_stage/* from lixinyizju/moda; the manifest reads no environment."""
    from core.engines.portrait import weights as PW
    from core.liveportrait import weights as lpw
    from core.moda import weights as MW

    by_path = {f.local: f for f in PW.FILES}
    for name in ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator"):
        assert by_path[f"decode/v1/first_stage/base_models/{name}.pth"].repo_id == "lixinyizju/moda"
    stitching = "decode/v1/first_stage/retargeting_models/stitching_retargeting_module.pth"
    assert by_path[stitching].repo_id == "lixinyizju/moda"
    assert by_path["decode/v1/first_stage/landmark.onnx"].filename == "decode/v1/first_stage/landmark.onnx"
    assert not any(p.startswith("liveportrait/") for p in by_path)  # KwaiVGI's copies are not the photo engine's
    assert (MW.DIT, MW.HUBERT_DIR) == ("moda/net-200.pth", "audio/chinese-hubert-base")
    assert PW.LIVEPORTRAIT is lpw.MODA and lpw.FILES == lpw.KWAIVGI.files()


def test_identical_copies_are_stored_once_and_different_ones_kept(tmp_path):
    import os

    from core.liveportrait import weights as lpw

    same, differ = tmp_path / "same", tmp_path / "differ"
    lpw.make_test_checkpoints(differ)
    lpw.make_test_checkpoints(differ, seed=1, weights=lpw.MODA)
    for a, b in zip(lpw.KWAIVGI.paths().values(), lpw.MODA.paths().values()):
        for name in (a, b):
            (same / name).parent.mkdir(parents=True, exist_ok=True)
            (same / name).write_bytes((differ / a).read_bytes())
    assert sorted(lpw.store_once(same)) == sorted(lpw.MODA.paths().values())
    assert all(os.path.samefile(same / a, same / b) for a, b in zip(lpw.KWAIVGI.paths().values(),
                                                                      lpw.MODA.paths().values()))
    assert lpw.store_once(same) == [] and lpw.store_once(differ) == []
    assert not os.path.samefile(differ / lpw.KWAIVGI.spade, differ / lpw.MODA.spade)


def test_renderer_and_cropper_load_the_set_they_are_given(tmp_path):
    from core.liveportrait import LivePortraitRenderer, tiny_config
    from core.liveportrait import weights as lpw
    from core.liveportrait.crop import FaceCropper

    lpw.make_test_checkpoints(tmp_path, weights=lpw.MODA)  # MoDA's copies only
    renderer = LivePortraitRenderer.from_checkpoints(tmp_path, cfg=tiny_config(), weights=lpw.MODA)
    assert renderer.spade_generator is not None
    FaceCropper(tmp_path, providers=["CPUExecutionProvider"], weights=lpw.MODA)
    with pytest.raises(FileNotFoundError):
        LivePortraitRenderer.from_checkpoints(tmp_path, cfg=tiny_config())  # the default is KwaiVGI's set
