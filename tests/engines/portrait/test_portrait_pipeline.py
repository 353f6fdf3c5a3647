"""Animate a photo end to end on tiny random weights: the public-domain astronaut, a manual face box, a short
synthetic voice. The video must last as long as the audio, have the photo's size, decode, and leave every
pixel outside the paste-back mask equal to the photo."""
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from core import paths
from core.audio.options import AudioOptions
from core.engines.portrait.pipeline import PortraitRequest, preview, run
from core.errors import BadInputError
from core.jobs import run_job

BOX = [185, 70, 275, 185]  # the astronaut's face, x1, y1, x2, y2


@pytest.fixture(scope="module")
def astronaut() -> str:
    import skimage

    return str(Path(skimage.__file__).parent / "data" / "astronaut.png")


@pytest.fixture
def speech(tmp_path) -> str:
    sr, seconds = 16000, 0.62
    t = np.arange(int(sr * seconds)) / sr
    voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    path = tmp_path / "speech.wav"
    sf.write(path, voice.astype(np.float32), sr)
    return str(path)


@pytest.fixture
def portrait_weights(test_checkpoints):
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(test_checkpoints)
    return test_checkpoints


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def test_animate_photo_end_to_end(portrait_weights, astronaut, speech, tmp_path):
    from core.liveportrait.crop import FaceCropper
    from core.liveportrait.pasteback import PasteBack
    from core.media import VideoWriter, iter_video_frames, load_image, probe

    result = run_job("portrait", run, PortraitRequest(image=astronaut, audio=AudioOptions(speech, rest="off"), box=BOX,
                                                      emotion="happiness", steps=3, render_batch=8, crf=0))
    info = probe(result.output)
    assert (info.width, info.height) == (512, 512) and info.fps == 25 and info.has_audio
    assert abs(info.video_duration - 0.62) <= 0.04 and abs(info.duration - 0.62) <= 0.04
    frames = list(iter_video_frames(result.output))
    assert len(frames) == result.extra["frames"] == 16  # round(0.62 * 25)
    assert {"audio features", "motion", "render", "paste-back", "encode"} <= set(result.timings)
    assert any("TEST weights" in w for w in result.warnings)

    photo = load_image(astronaut)
    crop = FaceCropper.cached(portrait_weights).crop_source(photo, box=BOX)
    paste = PasteBack(photo, crop)
    outside = np.ones(photo.shape[:2], bool)
    x0, y0, x1, y1 = paste.roi
    outside[y0:y1, x0:x1] = paste.mask[..., 0].numpy() == 0
    assert 0.5 < outside.mean() < 0.95
    # Lossless H.264 (crf 0), so the comparison sees the engine, not the codec; the photo goes through the same
    # 4:2:0 encode (the exact-bytes check before encoding is the test below).
    still = tmp_path / "still.mp4"
    with VideoWriter(still, fps=25, crf=0) as writer:
        writer.write(np.repeat(photo[None], len(frames), axis=0))
    encoded_photo = list(iter_video_frames(still))
    for i in (0, len(frames) // 2, len(frames) - 1):
        assert psnr(frames[i][outside], encoded_photo[i][outside]) > 45
    assert psnr(frames[-1][~outside], encoded_photo[-1][~outside]) < 30  # the animated (noise) face is pasted


def test_pasted_frames_keep_the_photo_bytes_outside_the_mask(portrait_weights, astronaut, speech):
    """Before encoding, every pixel outside the paste-back mask is bit-identical to the photo (PSNR infinite)."""
    from core.liveportrait.pasteback import PasteBack
    from core.engines.portrait.pipeline import _prepare, render_frames
    from core.jobs import JobContext

    req = PortraitRequest(image=astronaut, audio=AudioOptions(speech, rest="off"), box=BOX, render_batch=2)
    ctx = JobContext(Path(paths.outputs_dir()) / "direct").resolve("portrait", req)
    prep = _prepare(req, ctx)
    raw = prep.source.motion_vector().repeat(3, 1)
    raw[:, 68] += torch.tensor([0.0, 10.0, -10.0])  # turn the head
    batches = []
    render_frames(prep, raw, req, ctx, batches.append)
    frames = np.concatenate(batches)
    assert frames.shape == (3, 512, 512, 3) and frames.dtype == np.uint8
    paste = PasteBack(prep.photo, prep.crop)
    outside = np.ones(prep.photo.shape[:2], bool)
    x0, y0, x1, y1 = paste.roi
    outside[y0:y1, x0:x1] = paste.mask[..., 0].numpy() == 0
    for frame in frames:
        assert np.array_equal(frame[outside], prep.photo[outside])
    assert not np.array_equal(frames[1], frames[2])  # the pose drives the render


def test_no_pasteback_trimmed_audio_and_preview(portrait_weights, astronaut, speech):
    from core.media import probe

    req = PortraitRequest(image=astronaut, audio=AudioOptions(speech, start=0.1, end=0.5, rest="off"), box=BOX,
                          pasteback=False,
                          steps=2, cfg_scale=1.0, head_motion=0.0)
    result = run_job("portrait", run, req)
    info = probe(result.output)
    assert (info.width, info.height) == (512, 512) and result.extra["width"] == 512
    assert result.extra["frames"] == 10 and abs(info.duration - 0.4) <= 0.04  # the trimmed range drives it

    shot = run_job("portrait", preview, PortraitRequest(image=astronaut, audio=AudioOptions(speech, rest="off"),
                                                        box=BOX))
    from PIL import Image

    overlay = np.asarray(Image.open(shot.extra["images"]["crop"]))
    assert overlay.shape == (512, 512, 3)
    assert (overlay != np.asarray(Image.open(astronaut).convert("RGB"))).any()  # the crop square is drawn
    assert Image.open(shot.output).size == (512, 512)


def test_cli_preview_and_bad_input(portrait_weights, astronaut, speech, tmp_path, capsys):
    from core.cli import main

    png = tmp_path / "first.png"
    code = main(["portrait", "--image", astronaut, "--audio", speech, "--rest", "off", "--box", ",".join(map(str, BOX)),
                 "--preview", str(png), "--checkpoints", str(portrait_weights)])
    assert code == 0 and png.is_file() and (tmp_path / "first_crop.png").is_file()
    assert main(["portrait", "--image", astronaut, "--audio", speech, "--rest", "off", "--box", "1,2,3",
                 "--out", str(tmp_path / "x.mp4")]) == 2
    assert main(["portrait", "--image", astronaut, "--audio", speech, "--rest", "off", "--box", "0,0,9000,9000",
                 "--out", str(tmp_path / "x.mp4")]) == 2
    assert "face box" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()
    with pytest.raises(BadInputError, match="Emotion must be one of none"):
        PortraitRequest(image=astronaut, audio=AudioOptions(speech), emotion="joy").validate()


def test_cancel_between_batches_leaves_no_video(portrait_weights, astronaut, speech):
    import threading

    from core.errors import JobCancelled

    cancel = threading.Event()

    def progress(fraction, message):
        if message.startswith("rendering"):
            cancel.set()

    req = PortraitRequest(image=astronaut, audio=AudioOptions(speech, end=0.3, rest="off"), box=BOX, steps=1,
                          render_batch=4)
    with pytest.raises(JobCancelled):
        run_job("portrait", run, req, progress=progress, cancel_event=cancel)
    assert not list(Path(paths.outputs_dir()).rglob("*.mp4"))
