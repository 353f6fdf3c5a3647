"""Jobs: a folder per run, progress and timings, cancellation between batches, one GPU job at a time.

An engine is a function ``fn(request, ctx) -> JobResult``; ``run_job`` gives it a ``JobContext`` and guarantees that a
failed or cancelled job leaves no result file behind (only ``request.json``, ``log.txt`` and ``status.json``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
    delivered: Path | None = None  # where the output was copied (the request's ``output``), if anywhere

    def summary(self) -> str:
        """Timings as one human line, e.g. 'decode 1.2 s · unet 3.4 s · total 5.0 s'."""
        return " · ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())


def run_here(fn: Callable, *args: Any) -> Any:
    """The default GPU-call runner: call ``fn`` in this process."""
    return fn(*args)


class Detached:
    """What code inside a GPU call running in another process (a ZeroGPU worker) reports to: stages, progress and
    cancellation are no-ops there; the job reports and checks them between calls."""

    def stage(self, name: str) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def count(self, done: int, total: int, action: str, unit: str = "frames") -> None:
        pass

    def check_cancelled(self) -> None:
        pass


class JobContext:
    """What an engine sees of its job: progress (with spans and ETA), cancellation, stage timings, warnings, a log.

    Progress: ``with ctx.span(0.1, 0.9): ...`` makes every ``progress(f, ...)`` inside fill only that share of the
    bar (spans nest); ``ctx.count(done, total, "rendering", "frames")`` reports "rendering 40/100 frames · 12 s
    left" once a rate is known, the time left covering the whole job (the phases after the span by their share).
    Stages: ``with ctx.stage(name)`` adds wall time to ``timings[name]``; a stage entered inside another pauses the
    outer one, so per-thread stage times never overlap.
    """

    def __init__(self, job_dir: Path, progress: ProgressFn | None = None,
                 cancel_event: threading.Event | None = None, gpu_call: Callable | None = None,
                 gpu_budget_s: float = 0.0, on_segment: Callable | None = None):
        self.job_dir = Path(job_dir)
        self._on_segment = on_segment  # streamed results: who gets each finished segment (``emit``)
        # GPU calls: ``ctx.gpu_call(fn, *args)`` runs a module-level ``fn`` on the accelerator. Here by default; on
        # a Hugging Face ZeroGPU Space in a worker process, one call per ``gpu_budget_s`` seconds of work, with
        # picklable arguments and results (see ui.components.zero_gpu_runner).
        self.gpu_call = gpu_call or run_here
        self.gpu_budget_s = float(gpu_budget_s)
        self.job_dir.mkdir(parents=True, exist_ok=True)
        self._progress = progress
        self._cancel = cancel_event or threading.Event()
        self.timings: dict[str, float] = {}
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._spans: list[tuple[float, float]] = [(0.0, 1.0)]
        self._stages = threading.local()
        self._rates: dict[str, tuple[float, int]] = {}
        # The engine prologue's results (``resolve``); a bare context runs resident with no weights root.
        self.root: Path | None = None
        self.device: Any = None
        self.dtype: Any = None
        self.memory, self.placement = "full", "resident"

    def resolve(self, engine: str, request: Any, resolved: tuple | None = None) -> JobContext:
        """The engine prologue (``core.prologue``): validate ``request``, require its weights, resolve the device and
        dtype (or take them from ``resolved``), choose the memory profile and log why. Sets ``root``, ``device``,
        ``dtype``, ``memory`` and ``placement``; returns self."""
        from core import prologue
        from core.cache import PROFILE_PLACEMENTS

        self.root, self.device, self.dtype = resolved or prologue.resolve_request(engine, request)
        self.memory, why = prologue.choose_profile(engine, request, self.device, self.dtype, self.root,
                                                   here=self.gpu_call is run_here)
        self.placement = getattr(request, "memory_placements", PROFILE_PLACEMENTS)[self.memory]
        self.log(f"memory profile {self.memory} (models {self.placement}): {why}")
        return self

    def log(self, message: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
        with self._lock, open(self.job_dir / "log.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{stamp} {message}\n")

    def progress(self, fraction: float, message: str) -> None:
        """``fraction`` of the current span (0..1), mapped onto the whole job's bar."""
        lo, hi = self._spans[-1]
        fraction = lo + (hi - lo) * min(max(float(fraction), 0.0), 1.0)
        self.log(f"[{fraction:5.1%}] {message}")
        if self._progress is not None:
            self._progress(fraction, message)

    @contextlib.contextmanager
    def span(self, lo: float, hi: float) -> Iterator[None]:
        """Progress reported inside fills [lo, hi] of the current span."""
        outer_lo, outer_hi = self._spans[-1]
        width = outer_hi - outer_lo
        self._spans.append((outer_lo + width * lo, outer_lo + width * hi))
        try:
            yield
        finally:
            self._spans.pop()

    def count(self, done: int, total: int, action: str, unit: str = "frames") -> None:
        """Progress as "<action> done/total <unit>", with the time left for the whole job once two reports give a
        rate: the rest of this action at its measured rate, plus the job's share after the current span at the same
        cost per share (the spans are the phases' measured costs), refined at every report."""
        now = time.perf_counter()
        first = self._rates.setdefault(action, (now, done))
        message = f"{action} {done}/{total} {unit}"
        if done > first[1] and now > first[0]:
            per_unit = (now - first[0]) / (done - first[1])
            lo, hi = self._spans[-1]
            after = (1.0 - hi) / (hi - lo) * total if hi > lo else 0.0  # later phases, in this action's units
            message += f" · {format_seconds(per_unit * (total - done + after))} left"
        self.progress(done / max(total, 1), message)

    @property
    def streaming(self) -> bool:
        """Someone watches this job's result grow (``emit`` reaches them)."""
        return self._on_segment is not None

    def emit(self, segment: Any) -> None:
        """Hand a finished, playable segment of the result (``core.media.segments.Segment``) to the caller."""
        if self._on_segment is not None:
            self.log(f"segment {segment.index} ready ({segment.start_s:.2f}-{segment.end_s:.2f} s of the output)")
            self._on_segment(segment)

    def segments(self, writer: Any) -> Any:
        """The segment cutter for ``EncoderThread(writer, ctx.stage, segments=ctx.segments(writer))``: None when
        nobody streams this job, so the job does no extra work then."""
        if self._on_segment is None:
            return None
        from core.media.segments import SegmentTee

        return SegmentTee(writer, self.emit, self.job_dir / "segments")

    def for_gpu_call(self) -> JobContext | Detached:
        """What a GPU call may report to: this context when calls run here, a ``Detached`` one otherwise."""
        return self if self.gpu_call is run_here else Detached()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled("job cancelled")

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            self.log(f"WARNING {message}")

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Accumulate wall time under ``timings[name]`` (a stage may be entered once per batch); a nested stage
        pauses its parent."""
        stack = self._stages.__dict__.setdefault("stack", [])
        now = time.perf_counter()
        if stack:
            self._add(stack[-1][0], now - stack[-1][1])
        stack.append([name, now])
        try:
            yield
        finally:
            now = time.perf_counter()
            done = stack.pop()
            self._add(done[0], now - done[1])
            if stack:
                stack[-1][1] = now

    def _add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.timings[name] = self.timings.get(name, 0.0) + seconds

    def result(self, output: Path | None, **extra: Any) -> JobResult:
        """The JobResult for this context's timings and warnings."""
        return JobResult(output=output, timings=dict(self.timings), warnings=list(self.warnings),
                         extra=extra, job_dir=self.job_dir)


def format_seconds(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def fresh_job_dir(job_dir: Path) -> Path:
    """A job folder a caller names itself (a batch row's): made if missing, emptied of an earlier attempt's files."""
    job_dir = Path(job_dir)
    if job_dir.is_dir():
        shutil.rmtree(job_dir)
    job_dir.mkdir(parents=True)
    return job_dir


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


# Jobs running in this process, so a server or CLI can cancel them all on SIGINT/SIGTERM.
_ACTIVE: dict[str, JobContext] = {}
_ACTIVE_LOCK = threading.Lock()


def cancel_all() -> int:
    """Ask every running job to stop at its next batch boundary; returns how many were asked."""
    with _ACTIVE_LOCK:
        running = list(_ACTIVE.values())
    for ctx in running:
        ctx.cancel()
    return len(running)


def active_jobs() -> int:
    with _ACTIVE_LOCK:
        return len(_ACTIVE)


def run_job(engine: str, fn: Callable[[Any, JobContext], JobResult], request: Any,
            progress: ProgressFn | None = None, cancel_event: threading.Event | None = None,
            outputs_root: Path | None = None, gpu_call: Callable | None = None,
            gpu_budget_s: float = 0.0, job_dir: Path | None = None, on_segment: Callable | None = None) -> JobResult:
    """Run one engine call in its own ``outputs/<job-id>/`` folder (or ``job_dir``, emptied first), holding the GPU
    lock.

    A failed or cancelled job leaves only ``request.json``, ``log.txt`` and ``status.json`` (status "failed" with the
    error, or "cancelled"); Ctrl-C counts as a cancel. On success the result is also copied to ``request.output``
    when the request names one (``JobResult.delivered``). ``on_segment(segment)``: stream the result while it renders
    (engines cut playable segments through ``ctx.segments(writer)``; they stay in ``<job>/segments/``).
    """
    from core import prologue, weights  # local: weights reads the engine registry lazily
    from core.request import EngineRequest

    # The engine prologue's checks run before the folder exists: a bad request leaves nothing behind.
    resolved = prologue.resolve_request(engine, request) if isinstance(request, EngineRequest) else None
    job_dir = new_job_dir(engine, outputs_root) if job_dir is None else fresh_job_dir(job_dir)
    _write_json(job_dir / "request.json", {"engine": engine, "request": request})
    ctx = JobContext(job_dir, progress, cancel_event, gpu_call, gpu_budget_s, on_segment)
    if weights.is_test_checkpoints(getattr(request, "checkpoints", None)):
        ctx.warn("running on tiny random TEST weights: the output is noise, not a real model's result")
    ctx.progress(0.0, "waiting for the GPU" if GPU_LOCK.locked() else "starting")
    started = time.perf_counter()
    with _ACTIVE_LOCK:
        _ACTIVE[job_dir.name] = ctx
    try:
        with GPU_LOCK:
            ctx.check_cancelled()
            if resolved is not None:
                ctx.resolve(engine, request, resolved)
            result = fn(request, ctx)
        output = getattr(request, "output", None)
        if output and result.output is not None:
            result.delivered = deliver(result, output)
    except BaseException as exc:
        if not isinstance(exc, DeliveryFailed):  # a finished result that could not be copied stays in the job folder
            _remove_partial(job_dir)
        cancelled = isinstance(exc, (JobCancelled, KeyboardInterrupt)) or ctx.cancelled
        status = "cancelled" if cancelled else "failed"
        error = "cancelled" if cancelled else (str(exc) or type(exc).__name__)
        ctx.log(f"{status}: {error}")
        if not cancelled and not isinstance(exc, MouthpieceError):
            ctx.log(traceback.format_exc())
        _write_json(job_dir / "status.json", {"status": status, "error": error, "timings": ctx.timings})
        if cancelled and not isinstance(exc, JobCancelled):
            raise JobCancelled("job cancelled") from exc
        raise
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.pop(job_dir.name, None)
    result.job_dir = job_dir
    for message in ctx.warnings:
        if message not in result.warnings:
            result.warnings.append(message)
    result.timings.setdefault("total", time.perf_counter() - started)
    _write_json(job_dir / "status.json", {"status": "done", "output": result.output, "delivered": result.delivered,
                                          "timings": result.timings, "warnings": result.warnings})
    ctx.progress(1.0, "done")
    return result


class DeliveryFailed(MouthpieceError):
    """The job finished but its result could not be copied to the requested output; the result stays in the job
    folder, and the message says where."""


def deliver(result: JobResult, out: str | os.PathLike) -> Path:
    """Copy a job's output to the path the creator asked for, atomically (temp name, then rename). Any OSError (a
    folder that vanished or turned read-only, a full disk, a network share that refuses the write) is one line
    naming the path, the reason and where the finished result is (``DeliveryFailed``); no partial file is left."""
    if result.output is None:
        raise MouthpieceError("the job produced no output file")
    out = Path(out).expanduser().resolve()
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:6]}.part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.output, tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise DeliveryFailed(f"could not write {out} ({exc.strerror or type(exc).__name__}); the result is kept in "
                             f"{result.output}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return out
