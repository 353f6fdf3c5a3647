"""Issue 15: one memory profile for the studio (auto | full | offload | low). ``auto`` chooses from the free VRAM
(a pure function of the figures), the job log says what and why, and the model cache's offload pre-hooks move
modules with no call-site code. Every engine's placements per profile: test_memory_engines.py."""
from types import SimpleNamespace

import pytest
import torch

from core import jobs, prologue, weights
from core.audio.options import AudioOptions
from core.cache import ModelCache
from core.cli import build_parser
from core.device import GIB, choose_memory
from core.engine import ENGINES
from core.engines.avatar.request import AvatarRequest
from core.engines.lipdub.request import LipdubRequest
from core.errors import BadInputError
from core.weights import WeightFile
from tests.samples import make_tone

NEEDS = {"full": 10 * GIB, "offload": 6 * GIB, "low": 1 * GIB}


@pytest.mark.parametrize("free_gib, chosen", [(24, "full"), (11.2, "full"), (11.0, "offload"), (7, "offload"),
                                              (6.6, "low"), (2, "low"), (0.5, "low")])
def test_auto_picks_the_most_resident_profile_that_fits(free_gib, chosen):
    """Fits = the estimate is at most 90 % of the free memory; nothing fits -> the profile with the least memory."""
    profile, why = choose_memory(int(free_gib * GIB), NEEDS)
    assert profile == chosen
    if free_gib >= 1 / 0.9:
        assert why == f"{chosen}: needs about {NEEDS[chosen] / GIB:.1f} GiB, {free_gib:.1f} GiB free (90% usable)"
    else:
        assert why.startswith("low: no profile fits 0.5 GiB free")


def test_avatar_auto_walks_full_offload_fp8_sequential():
    """The avatar's needs are its own estimates (``estimate_vram_gb``) per mode at the requested size and dtype."""
    req = AvatarRequest(image="x.png", size="512x512")
    needs = req.memory_needs(torch.bfloat16)
    assert list(needs) == ["full", "offload", "fp8", "sequential"]
    assert needs["full"] > needs["offload"] > needs["fp8"] > needs["sequential"]
    for mode, need in needs.items():
        assert choose_memory(int(need / 0.9) + 1, needs)[0] == mode
    assert choose_memory(80 * GIB, needs)[0] == "full"
    assert choose_memory(int(needs["sequential"] / 2), needs)[0] == "sequential"
    assert AvatarRequest(image="x.png", size="832x480").memory_needs(torch.bfloat16)["full"] > needs["full"]


def test_manifest_needs_sum_the_files_for_full_and_take_the_largest_for_offload(tmp_path):
    """Sizes on disk where the file is there (``c``: 1 KiB), else the manifest's; scaled from fp32 to the dtype."""
    files = [WeightFile("a", size=4 * GIB), WeightFile("b", size=2 * GIB), WeightFile("c")]
    (tmp_path / "c").write_bytes(bytes(1024))
    assert prologue.manifest_needs(files, torch.float32) == {"full": 7 * GIB, "offload": 5 * GIB, "low": GIB}
    assert prologue.manifest_needs(files, torch.float16) == {"full": 4 * GIB, "offload": 3 * GIB, "low": GIB}
    assert prologue.manifest_needs(files, torch.float32, tmp_path)["full"] == 7 * GIB + 1024


def test_the_job_log_says_what_auto_chose_on_a_gpu_and_why(test_checkpoints, tmp_path, monkeypatch):
    """On CUDA, auto reads the free memory at job start (here a given figure) against the manifest's estimate."""
    req = LipdubRequest(video="v.mp4", checkpoints=str(test_checkpoints))
    needs = prologue.manifest_needs(weights.files("lipdub"), torch.float16, test_checkpoints)
    assert needs["full"] > needs["offload"] > needs["low"] == GIB
    free = int(needs["offload"] / 0.9) + 1          # offload fits, full (a few MB more here) does not
    monkeypatch.setattr(prologue, "free_memory", lambda device: free)
    ctx = jobs.JobContext(tmp_path / "job")
    ctx.resolve("lipdub", req, resolved=(test_checkpoints, torch.device("cuda"), torch.float16))
    assert (ctx.memory, ctx.placement) == ("offload", "offload")
    line = next(ln for ln in (tmp_path / "job" / "log.txt").read_text().splitlines() if "memory profile" in ln)
    assert line.endswith(f"memory profile offload (models offload): auto chose offload: needs about "
                         f"{needs['offload'] / GIB:.1f} GiB, {free / GIB:.1f} GiB free (90% usable)")
    req.memory = "low"
    ctx.resolve("lipdub", req, resolved=(test_checkpoints, torch.device("cuda"), torch.float16))
    assert (ctx.memory, ctx.placement) == ("low", "sequential")
    assert "memory profile low (models sequential): as asked" in (tmp_path / "job" / "log.txt").read_text()


def test_every_engine_refuses_an_unknown_profile_and_the_cli_has_the_flag(tmp_path):
    commands = build_parser()._subparsers._group_actions[0].choices
    for engine in (e for e in ENGINES if e.generates):
        wider = "fp8,sequential," if engine.name == "avatar" else ""
        assert f"--memory {{auto,full,offload,{wider}low}}" in commands[engine.name].format_usage()
    message = "Memory profile must be one of auto | full | offload | low, got 'sequential'"
    with pytest.raises(BadInputError) as refused:
        LipdubRequest(video="v.mp4", audio=AudioOptions(str(make_tone(tmp_path / "a.wav", 0.3))),
                      memory="sequential").validate()
    assert str(refused.value) == message


# ------------------------------------------------------------------------------------- the cache's offload hook
def _net(seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def test_offload_pre_hook_brings_one_module_at_a_time():
    """Calling an offloaded module (or any submodule of it) brings it to its device and sends the one that was there
    back; calls to a module already there move nothing. (CPU device: the bookkeeping is what is observable.)"""
    cache = ModelCache()
    a = cache.get("a", lambda: _net(0), placement="offload", device="cpu")
    b = cache.get("b", lambda: _net(1), placement="offload", device="cpu")
    x = torch.randn(3, 4)
    assert cache.offload_moves("a") == (False, 0) and cache.offload_moves("b") == (False, 0)
    a(x)
    assert cache.offload_moves("a") == (True, 1) and cache.offload_moves("b") == (False, 0)
    b(x)
    b(x)
    assert cache.offload_moves("a") == (False, 1) and cache.offload_moves("b") == (True, 1)
    a[2](torch.randn(3, 8))                               # a submodule's forward brings its whole model
    assert cache.offload_moves("a") == (True, 2) and cache.offload_moves("b") == (False, 1)
    with cache.on_device(b):                             # explicit, for code that reads weights without a call
        assert cache.offload_moves("b") == (True, 2)
    assert cache.placements() == {"a": "offload", "b": "offload"}
    assert torch.equal(a(x), _net(0)(x))                  # the hook changes where, never what


def test_a_cached_model_asked_for_with_another_profile_is_re_placed():
    cache = ModelCache()
    net = cache.get("n", lambda: _net(0), placement="offload", device="cpu")
    assert cache.get("n", lambda: _net(9), placement="resident", device="cpu") is net   # moved, not reloaded
    net(torch.randn(1, 4))
    assert cache.placements() == {"n": "resident"} and cache.offload_moves("n") == (False, 0)  # hooks removed
    streamed = cache.get("n", lambda: _net(0), placement="sequential", device="cpu")
    assert streamed is not net and cache.loads == 2                                   # accelerate's hooks: reload
    assert cache.report() == [("n", "streamed to cpu", sum(p.numel() * 4 for p in _net(0).parameters()))]


def test_a_wrapper_is_placed_through_its_module():
    """MoDA's motion generator and HuBERT are wrappers; the cache places (and hooks) their ``module``."""
    cache = ModelCache()
    wrapper = cache.get("w", lambda: SimpleNamespace(module=_net(0)), placement="offload", device="cpu")
    wrapper.module(torch.randn(1, 4))
    assert cache.offload_moves("w") == (True, 1)
    assert cache.report()[0][2] == sum(p.numel() * 4 for p in wrapper.module.parameters())


def test_auto_does_not_measure_where_gpu_calls_run_in_a_worker(test_checkpoints, tmp_path, monkeypatch):
    """On a ZeroGPU Space the job's process may not touch CUDA: auto takes full and says why."""
    def no_cuda_here(device):
        raise AssertionError("measured free memory in the job's process")

    monkeypatch.setattr(prologue, "free_memory", no_cuda_here)
    ctx = jobs.JobContext(tmp_path / "job", gpu_call=lambda fn, *args: fn(*args))
    ctx.resolve("lipdub", LipdubRequest(video="v.mp4", checkpoints=str(test_checkpoints)),
                resolved=(test_checkpoints, torch.device("cuda"), torch.float16))
    assert (ctx.memory, ctx.placement) == ("full", "resident")
    assert "auto chose full: the GPU calls run in a worker process" in (tmp_path / "job" / "log.txt").read_text()
