"""Issue 15: the job runner runs the engine prologue once (validate, weights, device, dtype, memory profile) and hands
the engine the results on its context; a bad request leaves no job folder behind."""
import os
from pathlib import Path

import pytest
import torch

from core import jobs, paths, prologue
from core.audio.options import AudioOptions
from core.engines.avatar.request import AvatarRequest
from core.engines.expression.request import ExpressionRequest
from core.engines.expression.weights import EDIT_FILES
from core.engines.lipdub.request import LipdubRequest
from core.errors import BadInputError, MissingWeightsError
from tests.samples import make_tone, portrait_path


def _seen(request, ctx):
    """An engine function that reports what the runner resolved for it."""
    (ctx.job_dir / "seen.txt").write_text(f"{ctx.root}|{ctx.device}|{ctx.dtype}|{ctx.memory}|{ctx.placement}")
    return ctx.result(ctx.job_dir / "seen.txt")


def _job_folders() -> list[Path]:
    out = Path(paths.outputs_dir())
    return sorted(out.iterdir()) if out.is_dir() else []


def _edit_only_checkpoints(test_checkpoints: Path, folder: Path) -> Path:
    """A checkpoints folder holding only the expression engine's still/video edit files (links to the tiny ones)."""
    for f in EDIT_FILES:
        (folder / f.local).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(test_checkpoints / f.local, folder / f.local)
    return folder


def test_engine_gets_the_resolved_root_device_dtype_and_memory(test_checkpoints):
    req = ExpressionRequest(image=str(portrait_path()), edits={"smile": 0.5}, checkpoints=str(test_checkpoints),
                            device="cpu", dtype="bf16")
    result = jobs.run_job("expression", _seen, req)
    root, device, dtype, memory, placement = result.output.read_text().split("|")
    assert (root, device, dtype) == (str(test_checkpoints.resolve()), "cpu", "torch.bfloat16")
    assert (memory, placement) == ("full", "resident")
    log = (result.job_dir / "log.txt").read_text()
    assert "memory profile full (models resident): no effect on the CPU (the weights stay in RAM)" in log


@pytest.mark.parametrize("change, message", [
    ({"crf": 99}, "must be 0..51, got 99"),
    ({"memory": "fp8"}, "auto | full | offload | low"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
])
def test_a_bad_request_is_refused_before_any_job_folder_exists(test_checkpoints, tmp_path, change, message):
    audio = AudioOptions(str(make_tone(tmp_path / "a.wav", seconds=0.5)))
    req = LipdubRequest(video=str(portrait_path()), audio=audio, checkpoints=str(test_checkpoints), **change)
    with pytest.raises(BadInputError, match=message.replace("|", r"\|")):
        jobs.run_job("lipdub", _seen, req)
    assert _job_folders() == []


def test_missing_weights_are_refused_before_any_job_folder_exists(tmp_path):
    req = LipdubRequest(video=str(portrait_path()), audio=AudioOptions(str(make_tone(tmp_path / "a.wav", 0.5))),
                        checkpoints=str(tmp_path / "empty"))
    with pytest.raises(MissingWeightsError, match="missing model files for lipdub"):
        jobs.run_job("lipdub", _seen, req)
    assert _job_folders() == []


def test_expression_needs_only_the_edit_weights_for_a_photo_edit(test_checkpoints, tmp_path):
    """``weights_needed()`` on the request: a still edit runs with KwaiVGI's set alone; photo + audio asks for MoDA."""
    ckpt = _edit_only_checkpoints(test_checkpoints, tmp_path / "ckpt")
    still = ExpressionRequest(image=str(portrait_path()), edits={"smile": 0.5}, checkpoints=str(ckpt))
    assert jobs.run_job("expression", _seen, still).output.read_text().startswith(str(ckpt.resolve()))
    talking = ExpressionRequest(image=str(portrait_path()), audio=AudioOptions(str(make_tone(tmp_path / "a.wav", 0.5))),
                                checkpoints=str(ckpt))
    with pytest.raises(MissingWeightsError) as missing:
        jobs.run_job("expression", _seen, talking)
    assert "moda/net-200.pth" in missing.value.missing
    assert not any(f.local in missing.value.missing for f in EDIT_FILES)


def test_half_precision_is_declared_by_the_request_class(test_checkpoints, tmp_path, monkeypatch):
    """dtype auto on CUDA: fp16 by default, bf16 where the request says so (the avatar), fp32 on the CPU."""
    audio = AudioOptions(str(make_tone(tmp_path / "a.wav", 0.5)))
    avatar = AvatarRequest(image=str(portrait_path()), audio=audio, checkpoints=str(test_checkpoints))
    lipdub = LipdubRequest(video=str(portrait_path()), audio=audio, checkpoints=str(test_checkpoints))
    assert prologue.resolve_request("avatar", avatar)[2] == torch.float32
    monkeypatch.setattr(prologue, "resolve_device", lambda name: torch.device("cuda"))  # what auto gives on a GPU
    assert prologue.resolve_request("avatar", avatar)[2] == torch.bfloat16
    assert prologue.resolve_request("lipdub", lipdub)[2] == torch.float16


def test_a_context_built_directly_resolves_like_the_runner(test_checkpoints, tmp_path):
    """Tests (and tools) that call a pipeline step with their own JobContext run the same prologue."""
    req = ExpressionRequest(image=str(portrait_path()), checkpoints=str(test_checkpoints), device="cpu",
                            memory="offload")
    ctx = jobs.JobContext(tmp_path / "job").resolve("expression", req)
    assert (ctx.root, ctx.device, ctx.dtype) == (test_checkpoints.resolve(), torch.device("cpu"), torch.float32)
    assert (ctx.memory, ctx.placement) == ("offload", "offload")
    with pytest.raises(BadInputError, match="Crop scale must be"):
        jobs.JobContext(tmp_path / "bad").resolve("expression", ExpressionRequest(
            image=str(portrait_path()), checkpoints=str(test_checkpoints), crop_scale=9.0))


def test_the_avatar_maps_the_studio_profiles_onto_its_modes(test_checkpoints, tmp_path):
    audio = AudioOptions(str(make_tone(tmp_path / "a.wav", 0.5)))
    placements = {}
    for mode in ("low", "sequential", "fp8", "offload", "full", "auto"):
        req = AvatarRequest(image=str(portrait_path()), audio=audio, checkpoints=str(test_checkpoints), memory=mode)
        ctx = jobs.JobContext(tmp_path / mode).resolve("avatar", req)
        placements[mode] = (ctx.memory, ctx.placement)
    assert placements == {"low": ("low", "sequential"), "sequential": ("sequential", "sequential"),
                          "fp8": ("fp8", "offload"), "offload": ("offload", "offload"),
                          "full": ("full", "resident"), "auto": ("full", "resident")}
