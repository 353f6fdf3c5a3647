"""Jobs: a folder per run, progress and timings, cancellation between batches, one GPU job at a time.

An engine is a function ``fn(request, ctx) -> JobResult``; ``run_job`` gives it a ``JobContext`` and guarantees that a
failed or cancelled job leaves no result file behind (only ``request.json``, ``log.txt`` and ``status.json``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import shutil
import threading
import time
import traceback
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from core import paths
from core.errors import JobCancelled, MouthpieceError

ProgressFn = Callable[[float, str], None]

# Every engine shares one accelerator: jobs run one after another, whatever thread submits them.
GPU_LOCK = threading.Lock()
_KEEP_ON_FAILURE = {"request.json", "log.txt", "status.json"}


@dataclass
class JobResult:
    output: Path | None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    job_dir: Path | None = None

    def summary(self) -> str:
        """Timings as one human line, e.g. 'decode 1.2 s · unet 3.4 s · total 5.0 s'."""
        return " · ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())


class JobContext:
    """What an engine sees of its job: progress, cancellation, stage timings, warnings and a log."""

    def __init__(self, job_dir: Path, progress: ProgressFn | None = None,
                 cancel_event: threading.Event | None = None):
        self.job_dir = Path(job_dir)
        self.job_dir.mkdir(parents=True, exist_ok=True)
        self._progress = progress
        self._cancel = cancel_event or threading.Event()
        self.timings: dict[str, float] = {}
        self.warnings: list[str] = []
        self._log_lock = threading.Lock()

    def log(self, message: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
        with self._log_lock, open(self.job_dir / "log.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{stamp} {message}\n")

    def progress(self, fraction: float, message: str) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        self.log(f"[{fraction:5.1%}] {message}")
        if self._progress is not None:
            self._progress(fraction, message)

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled("job cancelled")

    def cancel(self) -> None:
        self._cancel.set()

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            self.log(f"WARNING {message}")

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Accumulate wall time under ``timings[name]`` (a stage may be entered once per batch)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def result(self, output: Path | None, **extra: Any) -> JobResult:
        """The JobResult for this context's timings and warnings."""
        return JobResult(output=output, timings=dict(self.timings), warnings=list(self.warnings),
                         extra=extra, job_dir=self.job_dir)


def new_job_dir(engine: str, root: Path | None = None) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    job_dir = (root or paths.outputs_dir()) / f"{stamp}-{engine}-{uuid.uuid4().hex[:6]}"
    job_dir.mkdir(parents=True, exist_ok=False)
    return job_dir


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _remove_partial(job_dir: Path) -> None:
    for item in job_dir.iterdir():
        if item.name in _KEEP_ON_FAILURE:
            continue
        if item.is_dir():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def run_job(engine: str, fn: Callable[[Any, JobContext], JobResult], request: Any,
            progress: ProgressFn | None = None, cancel_event: threading.Event | None = None,
            outputs_root: Path | None = None) -> JobResult:
    """Run one engine call in its own ``outputs/<job-id>/`` folder, holding the GPU lock."""
    from core import weights  # local: weights imports engines' manifests lazily

    job_dir = new_job_dir(engine, outputs_root)
    _write_json(job_dir / "request.json", {"engine": engine, "request": request})
    ctx = JobContext(job_dir, progress, cancel_event)
    if weights.is_test_checkpoints():
        ctx.warn("running on tiny random TEST weights: the output is noise, not a real model's result")
    ctx.progress(0.0, "waiting for the GPU" if GPU_LOCK.locked() else "starting")
    started = time.perf_counter()
    try:
        with GPU_LOCK:
            ctx.check_cancelled()
            result = fn(request, ctx)
    except BaseException as exc:
        _remove_partial(job_dir)
        status = "cancelled" if isinstance(exc, JobCancelled) else "failed"
        ctx.log(f"{status}: {exc}")
        if not isinstance(exc, MouthpieceError):
            ctx.log(traceback.format_exc())
        _write_json(job_dir / "status.json", {"status": status, "error": str(exc)})
        raise
    result.job_dir = job_dir
    for message in ctx.warnings:
        if message not in result.warnings:
            result.warnings.append(message)
    result.timings.setdefault("total", time.perf_counter() - started)
    _write_json(job_dir / "status.json", {"status": "done", "output": result.output, "timings": result.timings,
                                          "warnings": result.warnings})
    ctx.progress(1.0, "done")
    return result


def deliver(result: JobResult, out: str | os.PathLike) -> Path:
    """Copy a job's output to the path the creator asked for, atomically (temp name, then rename)."""
    if result.output is None:
        raise MouthpieceError("the job produced no output file")
    out = Path(out).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:6]}.part")
    try:
        shutil.copyfile(result.output, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


@dataclass
class Job:
    id: str
    engine: str
    future: Future
    cancel_event: threading.Event
    state: str = "queued"  # queued | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = ""


class JobQueue:
    """A single worker that runs submitted jobs in order; each job's progress and state can be polled."""

    def __init__(self, outputs_root: Path | None = None):
        self.outputs_root = outputs_root
        self._queue: queue.Queue = queue.Queue()
        self._jobs: dict[str, Job] = {}
        self._worker = threading.Thread(target=self._work, name="mouthpiece-jobs", daemon=True)
        self._worker.start()

    def submit(self, engine: str, fn: Callable[[Any, JobContext], JobResult], request: Any,
               progress: ProgressFn | None = None) -> Job:
        job = Job(id=uuid.uuid4().hex[:8], engine=engine, future=Future(), cancel_event=threading.Event())
        self._jobs[job.id] = job
        self._queue.put((job, fn, request, progress))
        return job

    def cancel(self, job_id: str) -> None:
        """Stop the job at its next batch boundary (a queued job is cancelled as soon as it starts)."""
        self._jobs[job_id].cancel_event.set()

    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def _work(self) -> None:
        while True:
            job, fn, request, progress = self._queue.get()
            job.future.set_running_or_notify_cancel()
            job.state = "running"

            def report(fraction: float, message: str, job: Job = job) -> None:
                job.fraction, job.message = fraction, message
                if progress is not None:
                    progress(fraction, message)

            try:
                result = run_job(job.engine, fn, request, report, job.cancel_event, self.outputs_root)
            except JobCancelled as exc:
                job.state = "cancelled"
                job.future.set_exception(exc)
            except BaseException as exc:  # the queue keeps serving after any single job fails
                job.state = "failed"
                job.future.set_exception(exc)
            else:
                job.state = "done"
                job.future.set_result(result)
