"""Expression control end to end on tiny random weights (the official layouts, loaded by the product's loaders):
still-photo edit pasted back at full resolution, live preview, photo + audio with a timeline and edits added on
top of the audio motion, video edit keeping length and sound, the CLI and presets."""
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
import torch

from core.engines.expression import pipeline
from core.engines.expression.request import ExpressionRequest
from core.errors import BadInputError
from core.jobs import run_job
from tests.samples import portrait_path, talking_clip

BOX = [185, 70, 275, 185]  # the astronaut's face, x1, y1, x2, y2


@pytest.fixture
def weights(test_checkpoints):
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(test_checkpoints)
    return test_checkpoints


@pytest.fixture(scope="module")
def photo() -> str:
    return str(portrait_path())


def _outside_mask(photo_rgb: np.ndarray, crop) -> np.ndarray:
    """Pixels the paste-back mask cannot touch: the template warped into the photo is 0 there, with one pixel of
    margin for bilinear taps."""
    from core.liveportrait.pasteback import mask_template

    h, w = photo_rgb.shape[:2]
    warped = cv2.warpAffine(mask_template(512), np.asarray(crop.M_c2o)[:2], (w, h), flags=cv2.INTER_LINEAR)
    return cv2.dilate((warped > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) == 0


def test_still_photo_edit_keeps_every_pixel_outside_the_mask(weights, photo):
    from PIL import Image

    from core.liveportrait.crop import FaceCropper
    from core.media import load_image

    plain = run_job("expression", pipeline.run, ExpressionRequest(image=photo, box=BOX))
    edited = run_job("expression", pipeline.run, ExpressionRequest(image=photo, box=BOX,
                                                                    edits={"smile": 1.0, "yaw": 15}))
    src = load_image(photo)
    a, b = np.asarray(Image.open(plain.output)), np.asarray(Image.open(edited.output))
    assert a.shape == b.shape == src.shape  # full resolution
    crop = FaceCropper.cached(weights).crop_source(src, box=BOX)
    outside = _outside_mask(src, crop)
    assert 0.4 < outside.mean() < 0.95
    assert np.array_equal(b[outside], src[outside]) and np.array_equal(a[outside], src[outside])
    assert not np.array_equal(a[~outside], b[~outside])  # the edit changed the face
    assert any("TEST weights" in w for w in edited.warnings)


def test_live_preview_renders_the_edited_source_only(weights, photo):
    from PIL import Image

    req = ExpressionRequest(image=photo, box=BOX, edits={"wink": 20})
    first = run_job("expression", pipeline.preview, req)
    img = np.asarray(Image.open(first.output))
    assert img.shape == (512, 512, 3)
    again = run_job("expression", pipeline.preview, ExpressionRequest(image=photo, box=BOX, edits={"wink": 0}))
    assert again.extra["face_reused"]  # render only: no crop or feature extraction
    assert not np.array_equal(img, np.asarray(Image.open(again.output)))


def test_photo_audio_adds_edits_on_top_of_the_audio_motion(weights, photo, tmp_path, monkeypatch):
    """Every frame is driven by exactly the generated motion plus the edit offsets: the speech-driven mouth is
    offset, never replaced."""
    from core.audio.options import AudioOptions
    from core.liveportrait.expression import edit_deltas
    from core.media import iter_video_frames, probe

    sr, seconds = 16000, 0.32
    t = np.arange(int(sr * seconds)) / sr
    sf.write(tmp_path / "speech.wav", (0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(8 * np.pi * t))
                                       ).astype(np.float32), sr)
    generated, driven = [], []
    real_params, real_keypoints = pipeline.driving_params, pipeline.driving_keypoints

    def params_spy(*args, **kwargs):
        out = real_params(*args, **kwargs)
        generated.append((out.exp.clone(), torch.stack([out.pitch, out.yaw, out.roll], -1)))
        return out

    def keypoints_spy(renderer, face, exp, pose, t_, retarget):
        driven.append((exp.clone(), pose.clone()))
        return real_keypoints(renderer, face, exp, pose, t_, retarget)

    monkeypatch.setattr(pipeline, "driving_params", params_spy)
    monkeypatch.setattr(pipeline, "driving_keypoints", keypoints_spy)
    req = ExpressionRequest(image=photo, box=BOX, audio=AudioOptions(audio=str(tmp_path / "speech.wav"), rest="off"),
                            timeline=[{"start": 0, "end": 0.32, "emotion": "happiness", "strength": 2.0}],
                            edits={"aaa": 30, "smile": 0.5}, steps=2, render_batch=8, seed=3)
    res = run_job("expression", pipeline.run, req)
    gen_exp, gen_pose = (torch.cat(x) for x in zip(*generated))
    exp, pose = (torch.cat(x) for x in zip(*driven))
    d_exp, d_pose = edit_deltas({"aaa": 30, "smile": 0.5})
    torch.testing.assert_close(exp, gen_exp + d_exp)
    torch.testing.assert_close(pose, gen_pose + d_pose)
    assert gen_exp[:, 19].std(0).sum() > 0  # the audio-driven mouth moves under the edit
    info = probe(res.output)
    assert info.has_audio and abs(info.duration - seconds) <= 0.04
    assert len(list(iter_video_frames(res.output))) == res.extra["frames"] == 8


def test_video_edit_keeps_length_and_sound(weights, tmp_path):
    from core.media import load_audio, probe

    clip = talking_clip(tmp_path / "clip.mp4", seconds=0.2, size=(256, 256))
    req = ExpressionRequest(video=str(clip), box=[80, 40, 176, 150], edits={"eyebrow": 10}, smoothing=3)
    res = run_job("expression", pipeline.run, req)
    src, out = probe(clip), probe(res.output)
    assert (out.width, out.height) == (256, 256) and out.has_audio
    assert res.extra["frames"] == 5 and abs(out.video_duration - src.video_duration) <= 0.04
    a, b = load_audio(clip, sr=16000), load_audio(res.output, sr=16000)
    n = min(len(a), len(b))
    assert abs(len(a) - len(b)) <= 16000 * 0.03
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.98  # the same sound (re-encoded AAC)


def test_bad_requests_fail_before_work(photo, tmp_path):
    clip = tmp_path / "x.mp4"
    clip.write_bytes(b"")
    for req, match in (
        (ExpressionRequest(), "one of them"),
        (ExpressionRequest(image=photo, video=str(clip)), "one of them"),
        (ExpressionRequest(image=photo, timeline=[{"start": 0, "end": 1, "emotion": "fear", "strength": 1}]),
         "needs audio"),
        (ExpressionRequest(image=photo, edits={"grin": 1}), "unknown face edit"),
        (ExpressionRequest(image=photo, keyframes=[{"time": 1, "smile": 1, "easing": "bounce"}]), "easing"),
        (ExpressionRequest(image=str(tmp_path / "none.png")), "does not exist"),
        (ExpressionRequest(image=photo, eyes_open_ratio=2.0), "Eyes-open target must be 0..0.8, got 2"),
    ):
        with pytest.raises(BadInputError, match=match):
            req.validate()


def test_cli_still_edit_and_bad_edit(weights, photo, tmp_path, capsys):
    from core.cli import main

    out = tmp_path / "edited.png"
    (tmp_path / "kf.yaml").write_text("- {time: 0, smile: 0.5}\n- {time: 1, smile: 1, easing: ease-in-out}\n")
    assert main(["expression", "--image", photo, "--box", ",".join(map(str, BOX)), "--edit", "smile=0.6,yaw=10",
                 "--keyframes", str(tmp_path / "kf.yaml"), "--out", str(out)]) == 0
    assert out.is_file()
    assert main(["expression", "--image", photo, "--edit", "grin=1", "--out", str(out)]) == 2
    assert "unknown face edit" in capsys.readouterr().err


def test_presets_round_trip_and_shipped_examples(monkeypatch, tmp_path):
    from dataclasses import asdict

    from ui import presets

    monkeypatch.setenv("MOUTHPIECE_PRESETS", str(tmp_path))
    req = ExpressionRequest(image="x.png", edits={"smile": 0.6, "yaw": 10.0},
                            keyframes=[{"time": 0.0, "smile": 0.0, "easing": "linear"},
                                       {"time": 2.0, "smile": 1.0, "easing": "ease-in-out"}],
                            timeline=[{"start": 0.0, "end": 3.0, "emotion": "happiness", "strength": 2.0}],
                            crossfade=8, blink_rate=15.0, eyes_open_ratio=0.3, transfer_parts="mouth")
    data = {k: v for k, v in asdict(req).items() if k not in ("image", "audio")}
    path = presets.save_preset("expression", "round trip", data, ExpressionRequest)
    assert "!!python" not in path.read_text()
    back = ExpressionRequest.from_dict({**presets.load_preset("expression", "round trip", ExpressionRequest),
                                        "image": "x.png"})
    assert back == req
    shipped = Path(__file__).resolve().parents[3] / "presets" / "expression"
    monkeypatch.setenv("MOUTHPIECE_PRESETS", str(shipped.parent))
    names = presets.list_presets("expression")
    assert len(names) >= 2
    for name in names:
        values = presets.load_preset("expression", name, ExpressionRequest)
        shipped_req = ExpressionRequest.from_dict({**values, "image": str(portrait_path())})
        shipped_req.plan()  # edits, keyframes, blink
        shipped_req.emotion_timeline()


def test_video_motion_smoothing_keeps_each_frames_mouth_and_eyes():
    g = torch.Generator().manual_seed(0)
    track = pipeline._Track(crops=[None] * 6, exp=torch.randn(6, 21, 3, generator=g),
                            pose=torch.randn(6, 3, generator=g), t=torch.randn(6, 3, generator=g))
    exp, pose, t = pipeline.smooth_track(track, 3)
    # centred window 3, edges average what exists: frame 0 = mean(0, 1), frame 3 = mean(2, 3, 4)
    torch.testing.assert_close(pose[0], track.pose[:2].mean(0))
    torch.testing.assert_close(t[3], track.t[2:5].mean(0))
    keep = list(pipeline.UNSMOOTHED_ROWS)
    assert set(keep) == {6, 12, 14, 17, 19, 20, 11, 13, 15, 16, 18}
    torch.testing.assert_close(exp[:, keep], track.exp[:, keep])
    torch.testing.assert_close(exp[3, 1], track.exp[2:5, 1].mean(0))
    same = pipeline.smooth_track(track, 1)
    assert all(torch.equal(a, b) for a, b in zip(same, (track.exp, track.pose, track.t)))
