"""Weights manager, model cache, jobs and CLI plumbing."""
import http.server
import json
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from tests.appserver import register_engine

from core import cache as cache_mod
from core import jobs, weights
from core.cli import guarded
from core.engine import Engine
from core.errors import BadInputError, JobCancelled, MissingWeightsError

# This module doubles as a toy engine manifest, so the manager is tested without any engine's real files.
FILES = [
    weights.WeightFile("toy/net.safetensors", repo_id="example/toy", filename="net.safetensors"),
    weights.WeightFile("toy/extra/head.pth", url="http://127.0.0.1:1/head.pth"),
]


def make_test_checkpoints(root: Path) -> None:
    from safetensors.torch import save_file

    (root / "toy/extra").mkdir(parents=True, exist_ok=True)
    save_file(torch.nn.Linear(3, 2).state_dict(), str(root / "toy/net.safetensors"))
    torch.save(torch.nn.Linear(2, 1).state_dict(), root / "toy/extra/head.pth")


@pytest.fixture
def toy(monkeypatch):
    register_toy(monkeypatch)
    return "toy"


def register_toy(monkeypatch) -> None:
    """This module is the toy engine's weights manifest, added to the one registry for the test."""
    register_engine(monkeypatch, Engine("toy", "Toy engine", "toy_engine", generates=False),
                    weights=sys.modules[__name__])


def test_missing_files_give_the_exact_message(toy, tmp_path):
    with pytest.raises(MissingWeightsError) as err:
        weights.require(toy, tmp_path)
    assert str(err.value) == ("missing model files for toy: toy/net.safetensors, toy/extra/head.pth. "
                              "Fetch them with: python download_weights.py --engine toy")
    assert err.value.exit_code == 3


def test_test_checkpoints_load_through_safe_loader(toy, tmp_path):
    root = weights.make_test_checkpoints(tmp_path / "ck", only=[toy])
    assert weights.require(toy, root) == root
    assert weights.is_test_checkpoints(root)
    net = torch.nn.Linear(3, 2)
    net.load_state_dict(weights.load_state_dict(root / "toy/net.safetensors"), strict=True)
    head = weights.load_state_dict(root / "toy/extra/head.pth")
    assert set(head) == {"weight", "bias"}


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_loader_refuses_arbitrary_pickles(tmp_path):
    bad = tmp_path / "evil.pth"
    with open(bad, "wb") as fh:
        pickle.dump({"w": _Evil()}, fh)
    with pytest.raises(BadInputError, match="refusing to unpickle"):
        weights.load_state_dict(bad)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a tensor file")
    with pytest.raises(BadInputError, match="corrupt"):
        weights.load_state_dict(junk)


def test_offline_download_fetches_nothing(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError):
        weights.download(toy, tmp_path)
    assert not any(tmp_path.rglob("*.pth"))


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = bytes(range(256)) * 4096  # 1 MiB
    requests: list = []

    def do_GET(self):
        start = 0
        if "Range" in self.headers:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
        type(self).requests.append(start)
        body = self.payload[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_url_download_resumes_and_checks_size(monkeypatch, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/head.pth"
    size = len(_RangeHandler.payload)
    monkeypatch.setattr(sys.modules[__name__], "FILES", [weights.WeightFile("toy/head.pth", url=url, size=size)])
    register_toy(monkeypatch)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    part = tmp_path / "toy/head.pth.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(_RangeHandler.payload[:1000])  # an interrupted earlier download
    seen = []
    try:
        fetched = weights.download("toy", tmp_path, progress=lambda f, m: seen.append(f))
    finally:
        server.shutdown()
    assert fetched == [tmp_path / "toy/head.pth"]
    assert (tmp_path / "toy/head.pth").read_bytes() == _RangeHandler.payload
    assert _RangeHandler.requests == [1000]
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    assert weights.download("toy", tmp_path) == []  # present files are skipped


def test_every_landed_engine_has_complete_test_checkpoints(test_checkpoints):
    for engine in weights.engines():
        assert weights.missing(engine, test_checkpoints) == [], engine


def test_cache_reuses_and_evicts_past_budget():
    one_layer = 4 * (100 * 100 + 100)  # bytes of an fp32 Linear(100, 100)
    cache = cache_mod.ModelCache(budget_bytes=int(2.5 * one_layer))
    a = cache.get(("a", "cpu", "fp32"), lambda: torch.nn.Linear(100, 100))
    assert cache.get(("a", "cpu", "fp32"), lambda: torch.nn.Linear(100, 100)) is a
    cache.get(("b", "cpu", "fp32"), lambda: torch.nn.Linear(100, 100))
    cache.get(("a", "cpu", "fp32"), lambda: None)  # touch a: b becomes least recently used
    cache.get(("c", "cpu", "fp32"), lambda: torch.nn.Linear(100, 100))
    assert cache.keys() == [("a", "cpu", "fp32"), ("c", "cpu", "fp32")]
    assert cache.loads == 3 and cache.total_bytes() == 2 * one_layer
    cache.unload_all()
    assert cache.keys() == []


def test_cache_loads_once_across_threads():
    cache = cache_mod.ModelCache()
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.05)
        return torch.nn.Linear(2, 2)

    threads = [threading.Thread(target=cache.get, args=(("x",), slow)) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(calls) == 1


def _writes_then_fails(request, ctx):
    (ctx.job_dir / "result.mp4").write_bytes(b"half")
    raise BadInputError("no face found")


def _writes_result(request, ctx):
    with ctx.stage("work"):
        ctx.progress(0.5, "halfway")
        out = ctx.job_dir / "result.txt"
        out.write_text(request["text"])
    return ctx.result(out)


def test_failed_job_leaves_no_result_and_next_job_runs(tmp_path):
    with pytest.raises(BadInputError):
        jobs.run_job("toy", _writes_then_fails, {"text": "x"}, outputs_root=tmp_path)
    failed = next(tmp_path.iterdir())
    assert sorted(p.name for p in failed.iterdir()) == ["log.txt", "request.json", "status.json"]
    seen = []
    result = jobs.run_job("toy", _writes_result, {"text": "ok"}, progress=lambda f, m: seen.append((f, m)),
                          outputs_root=tmp_path)
    assert result.output.read_text() == "ok"
    assert (0.5, "halfway") in seen and seen[-1] == (1.0, "done")
    assert "work" in result.timings and "total" in result.timings
    delivered = jobs.deliver(result, tmp_path / "final/out.txt")
    assert delivered.read_text() == "ok" and not list(delivered.parent.glob("*.part"))


def test_jobs_run_in_order_and_honour_cancel(tmp_path):
    """Two jobs submitted from two threads (as two browser sessions would): the GPU lock runs them one after the
    other; the first, cancelled, stops at its next batch, says "cancelled" and leaves no output; the second runs."""
    gate, cancel = threading.Event(), threading.Event()
    outcome = {}

    def batches(request, ctx):
        (ctx.job_dir / "partial.mp4").write_bytes(b"half")
        for _ in range(100):
            gate.wait()
            ctx.check_cancelled()
            time.sleep(0.01)
        return ctx.result(None)

    def submit(name, fn, request, event=None):
        try:
            outcome[name] = jobs.run_job("toy", fn, request, cancel_event=event, outputs_root=tmp_path)
        except BaseException as exc:  # noqa: BLE001
            outcome[name] = exc

    first = threading.Thread(target=submit, args=("first", batches, {}, cancel))
    first.start()
    while not jobs.GPU_LOCK.locked():
        time.sleep(0.005)
    second = threading.Thread(target=submit, args=("second", _writes_result, {"text": "after"}))
    second.start()
    cancel.set()
    gate.set()
    first.join(10)
    second.join(10)
    assert isinstance(outcome["first"], JobCancelled)
    assert outcome["second"].output.read_text() == "after"
    statuses = sorted(json.loads((d / "status.json").read_text())["status"] for d in tmp_path.iterdir())
    assert statuses == ["cancelled", "done"]
    assert not list(tmp_path.glob("*/partial.mp4"))


def test_test_weights_are_announced(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("MOUTHPIECE_CHECKPOINTS", str(weights.make_test_checkpoints(tmp_path / "ck", only=[toy])))
    result = jobs.run_job("toy", _writes_result, {"text": "x"}, outputs_root=tmp_path / "out")
    assert any("TEST weights" in w for w in result.warnings)


def test_cli_maps_errors_to_exit_codes(capsys):
    def missing():
        raise MissingWeightsError("lipdub", ["musetalkV15/unet.pth"])

    assert guarded(missing) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python download_weights.py --engine lipdub" in err
    assert guarded(lambda: (_ for _ in ()).throw(BadInputError("bad"))) == 2


def test_cli_lists_weights(test_checkpoints):
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "download_weights.py", "--list", "--checkpoints", str(test_checkpoints)],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "missing]" not in out.stdout and "TEST weights" in out.stdout
    help_out = subprocess.run([sys.executable, "-m", "core", "--help"], cwd=root, capture_output=True, text=True)
    assert help_out.returncode == 0 and "weights" in help_out.stdout
