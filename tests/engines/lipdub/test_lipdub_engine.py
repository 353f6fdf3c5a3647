"""Lip-dub engine end to end on tiny random weights: strict loading, a manual-box run, the cache, preview, CLI."""
from pathlib import Path

import numpy as np
import pytest
import torch

from core import jobs, paths
from core.cli import main as cli_main
from core.audio.options import AudioOptions
from core.engines.lipdub import LipdubRequest, preview, run
from core.engines.lipdub import models as M
from core.engines.lipdub.source import pingpong
from core.errors import BadInputError
from core.media import iter_video_frames, probe
from tests.samples import make_tone, make_video, read_counter, talking_clip

BOX = (32, 24, 96, 112)  # x1, y1, x2, y2 on the 128x128 clip


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("lipdub_media")
    return {
        "video": talking_clip(d / "clip.mp4", seconds=0.4, size=(128, 128)),  # 10 frames: the audio needs ping-pong
        "audio": make_tone(d / "voice.wav", seconds=0.8, hz=220.0),
        "silent": make_video(d / "silent.mp4", seconds=0.5, tone_hz=None),
        "short_audio": make_tone(d / "short.wav", seconds=0.2, hz=220.0),
    }


def _req(media, ckpt, **kw):
    """A request with the shared vocabulary: the audio keys (audio, start, end, ...) go into its AudioOptions."""
    base = {"video": str(media["video"]), "audio": str(media["audio"]), "box": ",".join(map(str, BOX)),
            "checkpoints": str(ckpt), "batch_size": 8}
    values = {**base, **kw}
    audio = {k: values.pop(k) for k in list(values) if k in AudioOptions.__dataclass_fields__}
    return LipdubRequest(audio=AudioOptions(**{"rest": "off", **audio}), **values)  # tones hold no speech


def _loaders(root):
    cpu, f32 = torch.device("cpu"), torch.float32
    return {
        "musetalkV15/unet.pth": lambda: M.load_unet(root, "v15", cpu, f32),
        "musetalk/pytorch_model.bin": lambda: M.load_unet(root, "v1", cpu, f32),
        "sd-vae/diffusion_pytorch_model.safetensors": lambda: M.load_vae(root, cpu, f32),
        "whisper/model.safetensors": lambda: M.load_whisper_encoder(root, cpu, f32),
        "face-parse-bisent/79999_iter.pth": lambda: M.load_parser(root, cpu, f32),
        "facexlib/detection_mobilenet0.25_Final.pth": lambda: M.load_detector(root, cpu),
        "facexlib/alignment_WFLW_4HG.pth": lambda: M.load_landmarker(root, cpu),
    }


def _rewrite(path: Path, edit):
    from safetensors.torch import load_file, save_file

    if path.suffix == ".safetensors":
        state = load_file(str(path))
        save_file(edit(state), str(path))
        return
    state = torch.load(path, weights_only=True)
    if "state_dict" in state:
        state["state_dict"] = edit(state["state_dict"])
    else:
        state = edit(state)
    torch.save(state, path)


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_strict_loading(test_checkpoints, tmp_path, change):
    import shutil

    from core.cache import default_cache

    root = tmp_path / "ckpt"
    shutil.copytree(test_checkpoints, root)
    for rel, load in _loaders(root).items():
        default_cache().unload_all()
        load()  # the official layout loads
        default_cache().unload_all()
        if change == "missing":
            # whisper: only encoder keys are loaded, so drop one of those (any key elsewhere)
            _rewrite(root / rel, lambda s: {k: v for k, v in s.items()
                                            if k != next((n for n in s if "encoder." in n), next(iter(s)))})
        else:
            _rewrite(root / rel, lambda s: {**s, "encoder.stray.weight": torch.zeros(1)})
        with pytest.raises(BadInputError, match="does not match"):
            load()
    default_cache().unload_all()


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _passthrough(path, frames, audio, crf):
    """The same frames through the same writer, undubbed: what the output must equal outside the box."""
    from core.media import VideoWriter, load_audio

    with VideoWriter(path, fps=25, audio=(load_audio(audio, sr=48000), 48000), crf=crf) as writer:
        writer.write(np.stack(frames))
    return list(iter_video_frames(path))


def test_end_to_end_manual_box_and_cache(test_checkpoints, media, tmp_path):
    messages = []
    req = _req(media, test_checkpoints, crf=0)  # lossless H.264, so pixel comparisons see the engine, not the codec
    first = jobs.run_job("lipdub", run, req, progress=lambda f, m: messages.append(m))
    info = probe(first.output)
    assert info.kind == "video" and info.has_audio and (info.width, info.height) == (128, 128)
    assert abs(info.fps - 25) < 1e-3
    assert abs(info.duration - 0.8) <= 0.04 + 1e-6  # the audio's length, within one frame
    assert first.extra["cache_hit"] is False and "face_track" not in first.timings  # manual box: no detection
    assert first.extra["frames"] == 20 and first.extra["source_frames"] == 10
    assert any("TEST weights" in w for w in first.warnings)

    src = list(iter_video_frames(media["video"]))
    out = list(iter_video_frames(first.output))
    assert len(out) == 20
    expected = _passthrough(tmp_path / "plain.mp4", [src[pingpong(i, len(src))] for i in range(20)],
                            media["audio"], crf=0)
    x1, y1, x2, y2 = BOX
    outside = np.ones((128, 128), bool)
    outside[y1 - 2:y2 + 2, x1 - 2:x2 + 2] = False  # chroma is shared by 2x2 blocks at the box edge
    mid = (y1 + y2) // 2
    for frame, ref in zip(out, expected):
        assert _psnr(frame[outside], ref[outside]) > 45
        assert np.abs(frame[mid + 8:y2 - 4, x1 + 8:x2 - 8].astype(int) - ref[mid + 8:y2 - 4, x1 + 8:x2 - 8]).mean() > 5
        assert _psnr(frame[:y1 - 2], ref[:y1 - 2]) > 45  # the upper face is never touched
    assert min(_psnr(f[outside], s[outside]) for f, s in zip(out, (src[pingpong(i, 10)] for i in range(20)))) > 40

    messages.clear()
    second = jobs.run_job("lipdub", run, req, progress=lambda f, m: messages.append(m))
    assert second.extra["cache_hit"] is True
    assert "vae_encode" not in second.timings and "parse" not in second.timings and "cache_load" in second.timings
    assert any("cache" in m for m in messages)
    again = list(iter_video_frames(second.output))
    assert all(np.array_equal(a, b) for a, b in zip(again, out))  # same seed, same bits


def test_image_input_and_preview(test_checkpoints, media, tmp_path):
    frame = next(iter_video_frames(media["video"]))
    from PIL import Image

    still = tmp_path / "still.png"
    Image.fromarray(frame).save(still)
    result = jobs.run_job("lipdub", preview, _req(media, test_checkpoints, video=str(still)))
    overlay = np.asarray(Image.open(result.extra["images"]["overlay"]))
    dubbed = np.asarray(Image.open(result.output))
    assert overlay.shape == dubbed.shape == (128, 128, 3)
    assert result.extra["crop_box"] == list(BOX)
    assert np.array_equal(dubbed[:BOX[1]], frame[:BOX[1]])  # above the box: untouched
    assert not np.array_equal(dubbed[BOX[3] - 20:BOX[3]], frame[BOX[3] - 20:BOX[3]])
    mid = (BOX[1] + BOX[3]) // 2  # the overlay is drawn on the original frame, not on the dubbed one
    assert np.array_equal(overlay[mid + 8:BOX[3] - 4, BOX[0] + 8:BOX[2] - 8],
                          frame[mid + 8:BOX[3] - 4, BOX[0] + 8:BOX[2] - 8])


def test_bad_inputs_leave_no_output(test_checkpoints, media, tmp_path):
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    for kw, pattern in [({"video": str(corrupt)}, "broken.mp4"), ({"box": "10,10,500,90"}, "outside"),
                        ({"audio": str(media["silent"])}, "no audio"),
                        ({"video": str(media["audio"])}, "no picture")]:
        with pytest.raises(BadInputError, match=pattern):
            jobs.run_job("lipdub", run, _req(media, test_checkpoints, **kw))
    assert not list(paths.outputs_dir().rglob("*.mp4"))


def test_cli_preview_and_exit_codes(test_checkpoints, media, tmp_path, capsys):
    args = ["lipdub", "--video", str(media["video"]), "--audio", str(media["audio"]), "--rest", "off",
            "--checkpoints", str(test_checkpoints)]
    png = tmp_path / "p.png"
    assert cli_main(args + ["--box", "32,24,96,112", "--preview", str(png)]) == 0
    assert png.is_file() and (tmp_path / "p_overlay.png").is_file()
    assert cli_main(args + ["--box", "0,0,999,10", "--out", str(tmp_path / "x.mp4")]) == 2
    assert cli_main(["lipdub", "--video", str(media["video"]), "--audio", str(media["audio"]), "--rest", "off",
                     "--checkpoints", str(tmp_path / "none"), "--out", str(tmp_path / "x.mp4")]) == 3
    assert not (tmp_path / "x.mp4").exists()


def test_ui_tab_endpoints_and_request(media):
    import gradio as gr

    from ui.app import build_app
    from ui.tabs.lipdub import build, make_request

    demo = build_app()
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"lipdub", "lipdub_preview"} <= names
    with gr.Blocks():
        form = build()
    req = make_request(form, {"video": str(media["video"]), "audio": str(media["audio"]), "start": 0.5, "end": 0,
                              "version": "v1", "bbox_shift": 3, "extra_margin": 12, "parsing_mode": "raw",
                              "left_cheek_width": 40, "right_cheek_width": 50, "batch_size": 4, "seed": 7, "face": -1,
                              "face_point": "10,20", "box": "", "device": "cpu", "dtype": "fp32"})
    assert (req.audio.start, req.audio.end, req.version, req.bbox_shift, req.extra_margin) == (0.5, None, "v1", 3, 12)
    assert (req.face, req.point, req.box, req.left_cheek_width, req.batch_size) == (None, [10.0, 20.0], None, 40, 4)
    assert req.margin == 0 and req.mode == "raw"  # MuseTalk 1.0: no extra margin, raw parsing


def test_detection_path_with_two_faces(test_checkpoints, media, monkeypatch, tmp_path):
    """Detector answers replaced (random weights find no face); the real FAN, tracker, crop rule and overlay run.
    A still image keeps the full-size FAN (random weights, seconds per frame on CPU) to one frame."""
    from PIL import Image

    from core.engines.lipdub.face import landmarks as L

    still = tmp_path / "still.png"
    Image.fromarray(next(iter_video_frames(media["video"]))).save(still)
    faces = np.array([[70, 20, 120, 90, 0.99], [10, 30, 60, 100, 0.95]], np.float32)  # right one is larger
    monkeypatch.setattr(L, "detect_faces", lambda det, frames, device: [faces.copy() for _ in frames])
    req = _req(media, test_checkpoints, box=None, face=0, video=str(still), audio=str(media["short_audio"]))
    shown = jobs.run_job("lipdub", preview, req)
    assert shown.extra["faces"] == [[10, 30, 60, 100], [70, 20, 120, 90]]  # numbered from the left
    x1, _, x2, _ = shown.extra["crop_box"]
    side = 50 * L.FAN_CROP_SCALE  # landmarks come from the FAN's square around face 0 (centre 35, 65)
    assert 35 - side / 2 - 1 <= x1 < x2 <= 35 + side / 2 + 1
    assert shown.extra["bbox_range"] is not None
    result = jobs.run_job("lipdub", run, req)
    assert result.extra["faceless_frames"] == 0 and result.extra["bbox_range"] is not None
    assert "face_track" in result.timings, result.timings


def test_whisper_states_match_the_library(test_checkpoints):
    """Our 5-state pass equals transformers' hidden_states (the last one after the final LayerNorm)."""
    from core.engines.lipdub.audio import encoder_states

    enc = M.load_whisper_encoder(test_checkpoints, torch.device("cpu"), torch.float32)
    mel = M.load_feature_extractor(test_checkpoints)(np.random.default_rng(0).standard_normal(8000).astype(np.float32),
                                                     sampling_rate=16000, return_tensors="pt").input_features
    ours = encoder_states(enc, mel)
    ref = enc(mel, output_hidden_states=True)
    assert ours.shape == (1, 1500, 5, 384)
    torch.testing.assert_close(ours, torch.stack(ref.hidden_states, dim=2))
    torch.testing.assert_close(ours[:, :, 4], ref.last_hidden_state)


def test_rotated_30fps_video_and_v1(test_checkpoints, media, tmp_path):
    """A 30 fps phone video (rotated 90 degrees) is generated at 25 fps in its displayed orientation; v1 runs too;
    the audio trim range sets the length (0.2 s = 5 frames)."""
    clip = make_video(tmp_path / "phone.mp4", seconds=0.3, fps=30, size=(96, 64), rotation=90)
    req = _req(media, test_checkpoints, video=str(clip), box="8,8,80,56", version="v1", start=0.3, end=0.5)
    result = jobs.run_job("lipdub", run, req)
    info = probe(result.output)
    assert (info.width, info.height) == (96, 64) == (probe(clip).width, probe(clip).height)  # displayed size
    assert abs(info.fps - 25) < 1e-3 and result.extra["frames"] == 5 and result.extra["source_frames"] == 8
    assert abs(info.duration - 0.2) <= 0.04 + 1e-6
    # upright, in time order: the counters drawn on the source read back from the output (above the mask)
    expected = [read_counter(f) for f in iter_video_frames(clip)][:5]
    assert [read_counter(f) for f in iter_video_frames(result.output)] == expected == [0, 1, 2, 3, 4]


def test_frames_without_the_face_pass_through_in_place(test_checkpoints, media, monkeypatch, tmp_path):
    """The detector finds the face on even frames only: odd frames come out untouched, at their own times."""
    from core.engines.lipdub.face import landmarks as L

    clip = make_video(tmp_path / "c.mp4", seconds=0.12, fps=25, size=(96, 64), tone_hz=None)  # frames 0, 1, 2
    face = np.array([[20, 20, 76, 62, 0.99]], np.float32)
    monkeypatch.setattr(L, "detect_faces", lambda det, frames, device: [
        face.copy() if read_counter(f) % 2 == 0 else np.zeros((0, 5), np.float32) for f in frames])
    req = _req(media, test_checkpoints, video=str(clip), box=None, audio=str(media["short_audio"]), crf=0,
               smooth=False)
    result = jobs.run_job("lipdub", run, req)
    assert result.extra["faceless_frames"] == 1 and any("no face in 1 of 3" in w for w in result.warnings)
    src = list(iter_video_frames(clip))
    out = list(iter_video_frames(result.output))
    order = [pingpong(i, 3) for i in range(5)]  # 0 1 2 2 1
    assert [read_counter(f) for f in out] == order
    for frame, j in zip(out, order):
        if j == 1:
            assert _psnr(frame, src[1]) > 40  # untouched apart from the lossless-YUV round trip
        else:
            assert _psnr(frame, src[j]) < 35  # dubbed (noise from random weights in the lower crop)
