"""Running a planned batch: ``run_row`` (one row as a job, the same code in this process and in a Ray actor), the
local runner (rows one after another in this process, sharing its model cache), and ``run_batch`` (the driver loop
both runners share: progress, ``batch.json``, cancellation).

Cancellation: a set ``cancel_event`` (the studio's Stop), Ctrl-C or SIGTERM (``core.cli.guarded`` raises
``JobCancelled`` in the main thread) stop the running row at its next batch boundary (status ``cancelled``, no
partial file: ``core.jobs.run_job``); rows not started stay ``pending``; ``batch.json`` is written either way and a
rerun resumes.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import JobCancelled, MouthpieceError

from .summary import FINAL, Batch

Notify = Callable[[bool], None]   # notify(changed): changed = a row's status changed (batch.json is rewritten)


def run_row(payload: dict[str, Any], job_dir: str | Path, progress: Callable[[float, str], None] | None = None,
            cancel_event: threading.Event | None = None) -> dict[str, Any]:
    """Run one validated row (``{"engine", "request"}`` as plain values) as a job in ``job_dir``; returns its
    outcome as plain values: status (done / failed / cancelled), output, seconds, error (one line)."""
    from core import engine as registry
    from core import jobs

    started = time.perf_counter()
    outcome: dict[str, Any] = {"status": "done", "output": None, "error": "", "pid": os.getpid()}
    try:
        engine = registry.get(payload["engine"])
        request = engine.request_type.from_dict(payload["request"]).validate()
        result = jobs.run_job(engine.name, engine.run, request, progress=progress, cancel_event=cancel_event,
                              job_dir=Path(job_dir))
        outcome["output"] = str(result.delivered or result.output)
    except JobCancelled:
        outcome.update(status="cancelled", error="cancelled")
    except MouthpieceError as exc:
        outcome.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a row's bug must not stop the batch; the job's log has the traceback
        first = str(exc).splitlines()[0] if str(exc) else ""
        outcome.update(status="failed", error=f"{type(exc).__name__}: {first}".rstrip(": "))
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    return outcome


def finish(batch: Batch, number: int, outcome: dict[str, Any]) -> None:
    """Record a row's outcome in the batch state."""
    row = batch.row(number)
    row.status, row.error, row.seconds = outcome["status"], outcome.get("error", ""), outcome.get("seconds")
    row.output = outcome.get("output") if row.status == "done" else None
    row.fraction, row.worker = (1.0 if row.status == "done" else 0.0), None


class LocalRunner:
    """Rows one after another in this process; rows of the same engine share the loaded models."""

    label = "local"
    workers = 1

    def run(self, todo: list, batch: Batch, notify: Notify, cancel_event: threading.Event) -> None:
        for item in todo:
            if cancel_event.is_set():
                return
            row = batch.row(item.number)
            row.status, row.attempts, row.worker = "running", row.attempts + 1, os.getpid()
            notify(True)

            def progress(fraction: float, message: str, row=row) -> None:
                row.fraction, row.message = fraction, message
                notify(False)

            outcome = run_row(item.payload, item.job_dir, progress, cancel_event)
            finish(batch, item.number, outcome)
            notify(True)
            if outcome["status"] == "cancelled":
                raise JobCancelled("batch cancelled")


def redeliver(items: list) -> None:
    """A row found done whose delivered copy went missing gets it again from its job folder (no rerun)."""
    for item in items:
        if item.done and item.output is not None and not item.output.exists():
            status = json.loads((item.job_dir / "status.json").read_text(encoding="utf-8"))
            item.output.parent.mkdir(parents=True, exist_ok=True)
            tmp = item.output.with_name(f".{item.output.name}.part")
            shutil.copyfile(status["output"], tmp)
            os.replace(tmp, item.output)


def run_batch(items: list, out_dir: str | Path, runner: Any = None, on_update: Callable[[Batch], None] | None = None,
              cancel_event: threading.Event | None = None, manifest: str | None = None) -> Batch:
    """Run the runnable, not yet done ``items`` with ``runner`` (default: local); ``on_update(batch)`` after every
    change and progress report. Returns the final state (also in ``<out-dir>/batch.json``). Raises JobCancelled when
    cancelled (after writing batch.json)."""
    runner = runner or LocalRunner()
    cancel_event = cancel_event or threading.Event()
    batch = Batch.from_items(items, Path(out_dir).resolve(), runner=runner.label, manifest=manifest)
    batch.workers = runner.workers
    redeliver(items)
    todo = [item for item in items if item.request is not None and not item.done]
    batch.write()

    def notify(changed: bool) -> None:
        if changed:
            batch.write()
        if on_update is not None:
            on_update(batch)

    notify(False)
    try:
        if todo:
            runner.run(todo, batch, notify, cancel_event)
    except (JobCancelled, KeyboardInterrupt) as exc:
        for row in batch.rows:
            if row.status == "running":
                row.status, row.error, row.worker = "cancelled", "cancelled", None
        raise JobCancelled("batch cancelled") from exc
    finally:
        batch.workers = runner.workers
        batch.finished = time.time()
        batch.write()
        if on_update is not None:
            on_update(batch)
    if cancel_event.is_set() and not all(r.status in FINAL for r in batch.rows):
        raise JobCancelled("batch cancelled")
    return batch
