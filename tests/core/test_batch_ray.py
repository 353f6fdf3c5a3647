"""Batch on Ray, run locally on the CPU (``ray.init(num_cpus=2)``): two actors pull rows of two engines; one actor's
process is killed mid-row and the row is retried on a fresh actor and done; a rerun through the CLI's ``--ray``
finds every row done; an address where nothing answers is refused in one line within the stated timeout."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from core.batch import plan, read_manifest, run_batch
from core.batch.ray_runner import RayRunner, check_reachable
from core.cli import build_parser, main
from core.media import probe
from tests.core import test_batch as shared
from tests.core.test_batch import _dub, _edit, _jsonl

media = shared.media  # the same media fixture (module scope: made again for this module)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray on this CPU; its workers run torch on one thread (as Ray's own default for a one-CPU actor, which
    the tests' OMP_NUM_THREADS=2 would override: two threads per actor oversubscribe a shared two-core machine)."""
    import ray

    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    if before is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = before


def test_an_address_that_does_not_answer_is_one_line_within_the_timeout(media, tmp_path, capsys):
    manifest = _jsonl(media / "one.jsonl", [_edit("one", 0.2)])
    build_parser()  # imports every engine's flags: not part of the wait being bounded
    started = time.monotonic()
    code = main(["batch", str(manifest), "--out-dir", str(tmp_path / "out"), "--ray", "10.255.255.1:6379",
                 "--ray-timeout", "1.5"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and elapsed < 4
    assert err[0].startswith("error: no Ray head answers at 10.255.255.1:6379 within 1.5 s")
    assert main(["batch", str(manifest), "--out-dir", str(tmp_path / "out"), "--ray", "127.0.0.1:1"]) == 2
    assert "no Ray head answers at 127.0.0.1:1 within 10 s" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was planned or written


def test_a_worker_killed_mid_row_is_retried_and_the_batch_resumes(local_ray, media, test_checkpoints, tmp_path,
                                                                  capsys):
    rows = read_manifest(_jsonl(media / "ray.jsonl", [_dub("dub_a", 0.28, batch_size=1), _edit("smile", 0.5),
                                                      _dub("dub_b", 0.12), _edit("frown", -0.3)]))
    out = tmp_path / "out"
    items = plan(rows, out, {"checkpoints": str(test_checkpoints)})
    killed: list[int] = []
    workers: set[int] = set()

    def on_update(batch):
        row = batch.row(1)
        workers.update(r.worker for r in batch.rows if r.worker)
        if not killed and row.status == "running" and row.worker and row.fraction > 0.3:
            killed.append(row.worker)
            os.kill(row.worker, signal.SIGKILL)   # the actor's process, as a lost machine would

    check_reachable(local_ray.get_runtime_context().gcs_address, 5)  # a live head passes the probe
    batch = run_batch(items, out, RayRunner(workers=2, retries=1), on_update=on_update)
    assert batch.ok and batch.runner == "ray" and batch.workers == 2
    assert len(killed) == 1 and killed[0] != os.getpid() and len(workers) >= 2
    record = {r["name"]: r for r in json.loads((out / "batch.json").read_text())["rows"]}
    assert record["dub_a"]["attempts"] == 2 and record["dub_a"]["status"] == "done"
    assert [record[n]["attempts"] for n in ("smile", "dub_b", "frown")] == [1, 1, 1]
    assert abs(probe(out / "dub_a.mp4").duration - 0.28) <= 0.04 and (out / "frown.png").is_file()
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    log = (items[0].job_dir / "log.txt").read_text()
    assert log.count("starting") == 1  # the retry's job folder was emptied of the killed attempt's files

    stamps = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/status.json")}
    argv = ["batch", str(media / "ray.jsonl"), "--out-dir", str(out), "--checkpoints", str(test_checkpoints),
            "--ray", "--workers", "2"]
    assert main(argv) == 0
    assert {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/status.json")} == stamps
    assert all(r["reused"] for r in json.loads((out / "batch.json").read_text())["rows"])
    assert "smile" in capsys.readouterr().out


def test_stopping_a_ray_batch_cancels_the_running_row_on_its_worker(local_ray, media, test_checkpoints, tmp_path):
    """The driver's stop (Ctrl-C, SIGTERM or the cancel event) reaches the actor: its row ends cancelled at the next
    batch boundary, with no result file, and batch.json says so."""
    import threading

    from core.errors import JobCancelled

    rows = read_manifest(_jsonl(media / "stop.jsonl", [_dub("long", 0.4, batch_size=1)]))
    out = tmp_path / "out"
    items = plan(rows, out, {"checkpoints": str(test_checkpoints)})
    stop = threading.Event()

    def on_update(batch):
        if batch.row(1).message.startswith("generating"):
            stop.set()

    with pytest.raises(JobCancelled):
        run_batch(items, out, RayRunner(workers=1), on_update=on_update, cancel_event=stop)
    record = json.loads((out / "batch.json").read_text())["rows"][0]
    assert record["status"] == "cancelled" and record["output"] is None
    assert json.loads((items[0].job_dir / "status.json").read_text())["status"] == "cancelled"
    assert sorted(p.name for p in items[0].job_dir.iterdir()) == ["log.txt", "request.json", "status.json"]
