"""Live sessions: a job whose input arrives over time (the session half of the engine contract).

``open_session(engine, request)`` makes the job folder (``request.json``, ``log.txt``), takes the GPU lock without
waiting (a second live session, or a batch job running, is refused in one line), registers the session with the running
jobs (so SIGINT/SIGTERM of the server or CLI cancels it, like a job), and asks the engine's live module
(``Engine.live``, e.g. ``core.engines.lipdub.live.lipdub``) for its session. The caller then ``push``es audio and gets
frames back, and ``finish``es or ``close``s. The GPU lock is released by ``close``, whoever calls it: the caller at the
end, the UI on Stop or a closed tab, the idle watchdog when no audio has arrived for ``request.idle_timeout_s``, or the
next ``push`` after a cancel (which then raises ``JobCancelled``). ``status.json`` says how it ended: ``done``,
``cancelled``, ``timed out`` or ``failed``. Nothing of a session stays on the GPU after ``close`` except the models in
the shared model cache, as after a job.
"""
from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from core import engine as registry
from core import jobs
from core.errors import BadInputError, JobCancelled, MouthpieceError

_LIVE: dict[str, LiveSession] = {}  # open sessions by job folder name
_LIVE_LOCK = threading.Lock()


class LiveSession:
    """One open session (see the module docstring): ``push(samples, rate)`` -> frames or None, ``finish()``,
    ``close()``. Safe to close from another thread while the caller pushes."""

    def __init__(self, engine: str, impl: Any, ctx: jobs.JobContext, idle_timeout_s: float):
        self.engine, self.impl, self.ctx = engine, impl, ctx
        self.idle_timeout_s = float(idle_timeout_s)
        self.status: str | None = None  # set once closed
        self.opened = self.last_push = time.monotonic()
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name=f"live-{engine}-idle", daemon=True)
        self._watchdog.start()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def push(self, samples, rate: int) -> Any:
        return self._call(self.impl.push, samples, rate)

    def finish(self) -> Any:
        return self._call(self.impl.finish)

    def _call(self, fn: Callable, *args) -> Any:
        with self._lock:
            if self.closed:
                raise JobCancelled(f"the live session has ended ({self.status})")
            self.last_push = time.monotonic()
            try:
                self.ctx.check_cancelled()
                return fn(*args)
            except JobCancelled:
                self.close("cancelled")
                raise
            except BaseException as exc:
                self.close("failed", exc)
                raise
            finally:
                self.last_push = time.monotonic()  # the idle time counts from the end of the last push

    def cancel(self) -> None:
        """Stop from another thread (Stop, a closed tab, a signal): ends the session now if no push is running,
        else right after it."""
        self.ctx.cancel()
        if self._lock.acquire(timeout=0.05):
            try:
                self.close("cancelled")
            finally:
                self._lock.release()

    def close(self, status: str = "done", error: BaseException | None = None) -> None:
        """End the session: release the engine's session and the GPU lock, write ``status.json``. Idempotent."""
        with self._lock:
            if self.closed:
                return
            self.status = status
            self._closed.set()
            try:
                self.impl.close()
            finally:
                jobs.GPU_LOCK.release()
                with jobs._ACTIVE_LOCK:
                    jobs._ACTIVE.pop(self.ctx.job_dir.name, None)
                with _LIVE_LOCK:
                    _LIVE.pop(self.ctx.job_dir.name, None)
            message = str(error) if error is not None else status
            self.ctx.log(f"live session {status}: {message}")
            if error is not None and not isinstance(error, MouthpieceError):
                self.ctx.log("".join(traceback.format_exception(error)))
            jobs._write_json(self.ctx.job_dir / "status.json", {
                "status": status, "error": str(error) if error else None, "timings": self.ctx.timings,
                "warnings": self.ctx.warnings, "seconds": time.monotonic() - self.opened})

    def _watch(self) -> None:
        while not self._closed.wait(min(0.25, self.idle_timeout_s / 4)):
            if self.ctx.cancelled:  # a signal (jobs.cancel_all) while nobody pushes
                self.cancel()
            elif time.monotonic() - self.last_push > self.idle_timeout_s and self._lock.acquire(timeout=0.5):
                try:
                    if not self.closed and time.monotonic() - self.last_push > self.idle_timeout_s:
                        self.ctx.warn(f"no audio for {self.idle_timeout_s:.0f} s: the live session ended")
                        self.ctx.cancel()
                        self.close("timed out")
                finally:
                    self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("done" if exc_type is None else "cancelled" if issubclass(exc_type, (JobCancelled,
                   KeyboardInterrupt)) else "failed", exc)


def open_session(engine: str, request: Any, progress: jobs.ProgressFn | None = None,
                 outputs_root: Path | None = None, cancel_event: threading.Event | None = None) -> LiveSession:
    """Open a live session of ``engine`` (its registry line names a ``live`` module) for ``request``;
    ``cancel_event`` (e.g. the CLI's SIGTERM event) ends it like Stop."""
    live = registry.get(engine).live_module
    if live is None:
        raise BadInputError(f"{engine} has no live mode")
    request.validate()
    if not jobs.GPU_LOCK.acquire(blocking=False):
        with _LIVE_LOCK:
            running = next(iter(_LIVE.values()), None)
        if running is not None:
            raise BadInputError(f"a live session is already running (for {time.monotonic() - running.opened:.0f} s):"
                                " stop it first, one at a time per GPU")
        raise BadInputError("the GPU is busy with a job: a live session can start when it ends")
    try:
        job_dir = jobs.new_job_dir(f"{engine}-live", outputs_root)
        jobs._write_json(job_dir / "request.json", {"engine": engine, "live": True, "request": request})
        ctx = jobs.JobContext(job_dir, progress, cancel_event)
        with jobs._ACTIVE_LOCK:
            jobs._ACTIVE[job_dir.name] = ctx
        impl = live.open_session(request, ctx)
    except BaseException as exc:
        jobs.GPU_LOCK.release()
        if "ctx" in locals():
            with jobs._ACTIVE_LOCK:
                jobs._ACTIVE.pop(ctx.job_dir.name, None)
            ctx.log(f"failed to open: {exc}")
            jobs._write_json(ctx.job_dir / "status.json", {"status": "failed", "error": str(exc) or type(exc).__name__})
        raise
    session = LiveSession(engine, impl, ctx, getattr(request, "idle_timeout_s", 30.0))
    with _LIVE_LOCK:
        _LIVE[job_dir.name] = session
    return session


def live_sessions() -> list[LiveSession]:
    with _LIVE_LOCK:
        return list(_LIVE.values())
