"""Infinite avatar end to end on tiny random weights through the real loaders: the astronaut, short and long audio.

The video must last as long as the audio (within a frame), have the requested size, carry the audio, and the job
must stop between denoising steps when cancelled.
"""
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.audio.options import AudioOptions
from core.engines.avatar import pipeline
from core.engines.avatar.request import AvatarRequest
from core.errors import BadInputError, JobCancelled
from core.jobs import run_job

pytest_plugins = ["tests.avatar_support"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def astronaut() -> str:
    import skimage

    return str(Path(skimage.__file__).parent / "data" / "astronaut.png")


def voice(path: Path, seconds: float) -> str:
    sr = 16000
    t = np.arange(int(sr * seconds)) / sr
    samples = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    sf.write(path, samples.astype(np.float32), sr)
    return str(path)


def request(image, audio, checkpoints, **kw) -> AvatarRequest:
    return AvatarRequest(image=image, audio=AudioOptions(audio, rest="off"), size=kw.pop("size", "64x48"),
                         steps=kw.pop("steps", 2),
                         checkpoints=str(checkpoints), crf=0, **kw)


@pytest.mark.parametrize("seconds,windows", [(0.62, 1), (4.0, 2)])
def test_video_lasts_as_long_as_the_audio(avatar_checkpoints, astronaut, tmp_path, seconds, windows, monkeypatch):
    from core.media import iter_video_frames, probe
    from core.wan.audio import Wav2Vec

    encoded = []
    original = Wav2Vec.__call__
    monkeypatch.setattr(Wav2Vec, "__call__",
                        lambda self, samples: encoded.append(len(samples)) or original(self, samples))
    audio = voice(tmp_path / "speech.wav", seconds)
    messages = []
    result = run_job("avatar", pipeline.run, request(astronaut, audio, avatar_checkpoints, overlap=1),
                     progress=lambda fraction, message: messages.append(message))
    info = probe(result.output)
    assert (info.width, info.height) == (64, 48) and info.fps == 25 and info.has_audio
    assert abs(info.video_duration - seconds) <= 0.04 and abs(info.duration - seconds) <= 0.04
    frames = list(iter_video_frames(result.output))
    assert len(frames) == result.extra["frames"] == round(seconds * 25)
    assert result.extra["windows"] == windows
    assert np.std(frames[-1].astype(float)) > 1                 # decoded content, not a constant frame
    assert {"text", "image", "vae encode", "audio features", "denoise", "vae decode", "encode"} <= set(result.timings)
    assert any("TEST weights" in w for w in result.warnings)
    denoising = [m for m in messages if m.startswith("denoising")]
    assert len(denoising) == 2 * windows and f"window {windows}/{windows}" in denoising[-1]
    assert "left" in denoising[-1]                              # ETA once a rate is known
    assert len(encoded) == windows                              # wav2vec once per window, not once per step


def test_cancelled_between_denoising_steps(avatar_checkpoints, astronaut, tmp_path):
    audio = voice(tmp_path / "speech.wav", 1.0)
    cancel = threading.Event()
    seen = []

    def progress(fraction, message):
        seen.append(message)
        if message.startswith("denoising"):
            cancel.set()

    with pytest.raises(JobCancelled):
        run_job("avatar", pipeline.run, request(astronaut, audio, avatar_checkpoints, steps=5), progress=progress,
                cancel_event=cancel)
    assert sum(m.startswith("denoising") for m in seen) == 1


def test_preview_is_the_first_window_at_draft_steps(avatar_checkpoints, astronaut, tmp_path):
    from core.media import probe

    audio = voice(tmp_path / "speech.wav", 4.0)
    result = run_job("avatar", pipeline.preview, request(astronaut, audio, avatar_checkpoints, steps=50))
    assert result.output.suffix == ".png"
    assert result.extra["steps"] == pipeline.PREVIEW_STEPS and result.extra["windows"] == 1
    clip = probe(result.extra["video"])
    assert abs(clip.duration - 81 / 25) <= 0.04 and clip.has_audio


def test_bad_requests_fail_before_work(avatar_checkpoints, astronaut, tmp_path):
    audio = voice(tmp_path / "speech.wav", 0.5)
    for kw in [dict(size="500x500"), dict(overlap=21), dict(memory="tiny"), dict(steps=0),
               dict(overlap_scheme="cosine"), dict(colour_correction=2.0)]:
        with pytest.raises(BadInputError):
            request(astronaut, audio, avatar_checkpoints, **kw).validate()
    with pytest.raises(BadInputError):
        request(str(tmp_path / "missing.png"), audio, avatar_checkpoints).validate()


def test_cli_generates_and_refuses_bad_input(avatar_checkpoints, astronaut, tmp_path, capsys):
    from core.cli import main
    from core.media import probe

    audio = voice(tmp_path / "speech.wav", 0.5)
    out = tmp_path / "avatar.mp4"
    code = main(["avatar", "--image", astronaut, "--audio", audio, "--rest", "off", "--prompt", "a woman talking",
                 "--out", str(out),
                 "--size", "48x32", "--steps", "draft", "--checkpoints", str(avatar_checkpoints)])
    assert code == 0
    info = probe(out)
    assert (info.width, info.height) == (48, 32) and info.has_audio and abs(info.duration - 0.5) <= 0.04
    still = tmp_path / "preview.png"
    assert main(["avatar", "--image", astronaut, "--audio", audio, "--rest", "off", "--preview", str(still),
                 "--size", "48x32",
                 "--checkpoints", str(avatar_checkpoints)]) == 0
    from PIL import Image

    assert Image.open(still).size == (48, 32)
    assert "preview clip:" in capsys.readouterr().out
    assert main(["avatar", "--image", astronaut, "--audio", audio, "--rest", "off", "--out", str(out), "--overlap", "0",
                 "--checkpoints", str(avatar_checkpoints)]) == 2
    assert "overlap must be 1..20" in capsys.readouterr().err


def test_bf16_the_reference_precision_runs_close_to_fp32(avatar_checkpoints, astronaut, tmp_path):
    from core.media import iter_video_frames

    audio = voice(tmp_path / "speech.wav", 0.5)
    videos = {}
    for dtype in ("fp32", "bf16"):
        result = run_job("avatar", pipeline.run,
                         request(astronaut, audio, avatar_checkpoints, size="32x32", dtype=dtype))
        videos[dtype] = np.stack(list(iter_video_frames(result.output))).astype(float)
    assert videos["bf16"].shape == videos["fp32"].shape == (13, 32, 32, 3)
    assert np.abs(videos["bf16"] - videos["fp32"]).mean() < 4          # bf16 DiT and umT5, fp32 VAE and CLIP


def test_gpu_calls_split_the_job_with_picklable_state(avatar_checkpoints, astronaut, tmp_path):
    """A ZeroGPU Space runs each GPU call in a worker process: arguments and results cross as pickles, and each call
    does only as much as fits its duration. A runner that pickles both ways, with no time budget (one window-step or
    one latent frame per call), gives exactly the video of the in-process run."""
    import pickle

    from core.media import iter_video_frames

    calls = []

    def in_another_process(fn, *args):
        calls.append(fn.__name__)
        result = pickle.loads(pickle.dumps(fn))(*pickle.loads(pickle.dumps(args)))
        return pickle.loads(pickle.dumps(result))

    audio = voice(tmp_path / "speech.wav", 4.0)
    here = run_job("avatar", pipeline.run, request(astronaut, audio, avatar_checkpoints, overlap=2))
    split = run_job("avatar", pipeline.run, request(astronaut, audio, avatar_checkpoints, overlap=2),
                    gpu_call=in_another_process, gpu_budget_s=0.0)
    windows, latents = here.extra["windows"], here.extra["latents"]
    assert calls.count("condition_call") == 1
    assert calls.count("denoise_call") == 2 * windows  # steps x windows
    assert 1 <= calls.count("decode_call") <= latents
    ours, theirs = list(iter_video_frames(here.output)), list(iter_video_frames(split.output))
    assert len(ours) == len(theirs) == here.extra["frames"]
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))
