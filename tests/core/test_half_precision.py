"""The one dtype policy end to end: bf16 and fp16 run on the CPU for every engine (slowly), and the models really
run in the asked precision (not an fp32 run that ignored the choice)."""
import contextlib

import numpy as np
import pytest
import torch

from core import jobs
from core.audio.options import AudioOptions
from core.device import resolve_dtype
from core.media import iter_video_frames, probe
from tests.samples import make_tone, portrait_path, talking_clip

FRAME = 0.04


@contextlib.contextmanager
def conv_output_dtypes():
    """Every dtype a convolution produced while the block ran (all modules, whatever engine)."""
    seen: set[torch.dtype] = set()

    def hook(module, args, output):
        if isinstance(module, torch.nn.modules.conv._ConvNd) and isinstance(output, torch.Tensor):
            seen.add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def test_auto_is_half_on_cuda_and_fp32_on_cpu():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("auto", cuda) == torch.float16
    assert resolve_dtype("auto", cuda, half=torch.bfloat16) == torch.bfloat16  # an engine whose reference needs bf16
    assert resolve_dtype("fp16", cpu) == torch.float16 and resolve_dtype("bf16", cpu) == torch.bfloat16


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("half")
    return {"clip": talking_clip(d / "clip.mp4", seconds=0.4, size=(128, 128)),
            "voice": make_tone(d / "voice.wav", seconds=0.6, hz=220.0),
            "short": make_tone(d / "short.wav", seconds=0.08, hz=220.0)}  # two frames: fp16 renders slowly on a CPU


def _lipdub(media, ckpt, dtype):
    from core.engines.lipdub import LipdubRequest, run

    return jobs.run_job("lipdub", run, LipdubRequest(video=str(media["clip"]),
                                                     audio=AudioOptions(str(media["voice"]), rest="off"),
                                                     box=[32, 24, 96, 112], checkpoints=str(ckpt), dtype=dtype,
                                                     device="cpu", batch_size=8, crf=0, use_cache=False))


def _portrait(media, ckpt, dtype):
    from core.engines.portrait import PortraitRequest, run

    return jobs.run_job("portrait", run, PortraitRequest(image=str(portrait_path()),
                                                         audio=AudioOptions(str(media["short"]), rest="off"),
                                                         box=[185, 70, 275, 185], checkpoints=str(ckpt), dtype=dtype,
                                                         device="cpu", steps=2, render_batch=2, crf=0))


@pytest.mark.parametrize("engine, size, seconds", [("lipdub", (128, 128), 0.6), ("portrait", (512, 512), 0.08)])
def test_half_precision_runs_on_the_cpu_in_that_precision(test_checkpoints, media, engine, size, seconds):
    run = {"lipdub": _lipdub, "portrait": _portrait}[engine]
    with conv_output_dtypes() as seen:
        reference = run(media, test_checkpoints, "fp32")
    assert seen == {torch.float32}
    frames = {"fp32": np.stack(list(iter_video_frames(reference.output)))}
    for dtype, torch_dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        with conv_output_dtypes() as seen:
            result = run(media, test_checkpoints, dtype)
        assert torch_dtype in seen, (engine, dtype, seen)  # the networks really ran in half precision
        info = probe(result.output)
        assert (info.width, info.height) == size and info.has_audio
        assert abs(info.duration - seconds) <= FRAME + 1e-6
        frames[dtype] = np.stack(list(iter_video_frames(result.output)))
        assert frames[dtype].shape == frames["fp32"].shape
        assert not np.array_equal(frames[dtype], frames["fp32"])  # a dtype that was ignored would be identical
    assert not np.array_equal(frames["bf16"], frames["fp16"])
