"""Running engine jobs from the studio: Preview / Generate / Stop wiring shared by every tab, with real cancellation.

A Generate handler is a generator: the job runs on a worker thread while the handler yields the progress line
("40% · rendering 40/100 frames · 12 s left · 35 s elapsed") into the tab's status text, then the result. The job's
cancel event is set when the creator presses Stop, when an API client cancels (``job.cancel()`` closes the handler),
when the browser tab closes (``demo.unload``), or when the server is asked to stop; the job then ends within one
batch, releases the GPU lock, and the next queued job starts.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from core import jobs
from core.errors import JobCancelled
from core.jobs import JobResult
from ui.components import gpu as whole_handler_on_gpu
from ui.components import gpu_calls, report_warnings, run_action

_SESSIONS: dict[str, set[threading.Event]] = {}
_SESSIONS_LOCK = threading.Lock()
POLL_SECONDS = 0.25


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


def _register(session: str, event: threading.Event) -> None:
    with _SESSIONS_LOCK:
        _SESSIONS.setdefault(session, set()).add(event)


def _unregister(session: str, event: threading.Event) -> None:
    with _SESSIONS_LOCK:
        events = _SESSIONS.get(session, set())
        events.discard(event)
        if not events:
            _SESSIONS.pop(session, None)


def cancel_session(request: gr.Request | None = None) -> None:
    """Stop every job this browser session (or API client) started."""
    with _SESSIONS_LOCK:
        events = list(_SESSIONS.get(_session(request), ()))
    for event in events:
        event.set()


def stream_job(engine: str, fn: Callable, req: Any, request: gr.Request | None, progress: gr.Progress | None,
               on_progress: Callable[[str], Any], on_done: Callable[[JobResult], Any],
               split_gpu_calls: bool = False) -> Iterator[Any]:
    """Run ``fn(req, ctx)`` as a job on a worker thread; yield ``on_progress(line)`` as it advances and
    ``on_done(result)`` at the end. Closing this generator (Stop, an API cancel) cancels the job, which ends within
    one batch. ``split_gpu_calls``: the engine runs its accelerator work through ``ctx.gpu_call`` (one ZeroGPU call
    each on a Space; wire its tab with ``split_gpu_calls=True`` too)."""
    options = gpu_calls() if split_gpu_calls else {}
    cancel = threading.Event()
    session = _session(request)
    _register(session, cancel)
    state: dict[str, Any] = {"fraction": 0.0, "message": "queued"}
    outcome: dict[str, Any] = {}

    def report(fraction: float, message: str) -> None:
        state["fraction"], state["message"] = fraction, message

    def work() -> None:
        try:
            outcome["result"] = jobs.run_job(engine, fn, req, progress=report, cancel_event=cancel, **options)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the handler's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"job-{engine}", daemon=True)
    started = time.monotonic()
    worker.start()
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            if worker.is_alive():  # a yield every poll, changed or not: Gradio can close the handler only there
                if progress is not None:  # API clients read it; the tab shows the status line only
                    progress(state["fraction"], desc=state["message"])
                yield on_progress(progress_line(state["fraction"], state["message"], time.monotonic() - started))
        if isinstance(outcome.get("error"), JobCancelled):  # Stop (or the server stopping): not an error to show
            yield on_progress("stopped")
            return
        if "error" in outcome:
            raise outcome["error"]
        report_warnings(outcome["result"])
        yield on_done(outcome["result"])
    finally:
        if worker.is_alive():  # closed early (Stop, an API cancel): the job stops at its next batch boundary and
            cancel.set()       # releases the GPU lock; a queued job waits for that lock, not for this handler
        _unregister(session, cancel)


def progress_line(fraction: float, message: str, elapsed: float) -> str:
    """The one progress text a running job shows: "40% · rendering 40/100 frames · 12 s left · 35 s elapsed"."""
    return f"{fraction:.0%} · {message} · {jobs.format_seconds(elapsed)} elapsed"


def run_preview(engine: str, fn: Callable, req: Any, request: gr.Request | None,
                progress: gr.Progress | None, split_gpu_calls: bool = False) -> JobResult:
    """A preview job (seconds): runs in the handler's thread, and Stop cancels it through the session too."""
    options = gpu_calls() if split_gpu_calls else {}
    cancel = threading.Event()
    session = _session(request)
    _register(session, cancel)
    try:
        report = None if progress is None else (lambda f, m: progress(f, desc=m))
        result = jobs.run_job(engine, fn, req, progress=report, cancel_event=cancel, **options)
    finally:
        _unregister(session, cancel)
    report_warnings(result)
    return result


@dataclass
class ActionRow:
    preview: gr.Button
    generate: gr.Button
    stop: gr.Button
    status: gr.Markdown


def action_row(preview_label: str = "Preview") -> ActionRow:
    """Preview / Generate / Stop side by side, with the job's status line under them."""
    with gr.Row(equal_height=True):
        preview = gr.Button(preview_label, scale=2)  # its label says what it renders
        generate = gr.Button("Generate", variant="primary", scale=2)
        stop = gr.Button("Stop", variant="stop", interactive=False, scale=1)
    status = gr.Markdown(elem_classes=["job-status"])
    return ActionRow(preview, generate, stop, status)


def wire(row: ActionRow, engine: str, inputs: list, preview_fn: Callable, preview_outputs: list,
         generate_fn: Callable, generate_outputs: list, split_gpu_calls: bool = False) -> None:
    """Connect the row: API names ``<engine>_preview`` and ``<engine>``; Generate is disabled and Stop enabled while
    a job runs; Stop cancels the running job (and a preview) of this session. On a ZeroGPU Space a handler holds the
    GPU for its whole run, unless the engine splits its work into GPU calls (``split_gpu_calls``)."""
    gpu = (lambda fn: fn) if split_gpu_calls else whole_handler_on_gpu
    busy = (gr.update(interactive=False), gr.update(interactive=True))
    idle = (gr.update(interactive=True), gr.update(interactive=False))
    preview_event = row.preview.click(run_action(gpu(preview_fn)), inputs, preview_outputs,
                                      api_name=f"{engine}_preview")
    row.generate.click(lambda: busy, None, [row.generate, row.stop], queue=False, api_visibility="private")
    # One progress text: the status line under the buttons (share, stage, time left, time elapsed); no overlay,
    # whose own timer restarts at every streamed line.
    generate_event = row.generate.click(run_action(gpu(generate_fn)), inputs, generate_outputs, api_name=engine,
                                        show_progress="hidden")
    # Idle again however the job ended: Gradio's .then() does not follow a failed event (a refused input), .failure()
    # does.
    for ended in (generate_event.then, generate_event.failure):
        ended(lambda: idle, None, [row.generate, row.stop], queue=False, api_visibility="private")

    # The status says "stopped" only once the cancel has gone through, so no progress line still in flight from
    # the closed handler can overwrite it.
    stopped = row.stop.click(cancel_session, None, None, cancels=[generate_event, preview_event], queue=False,
                             api_visibility="private")
    stopped.then(lambda: (*idle, "stopped"), None, [row.generate, row.stop, row.status], queue=False,
                 api_visibility="private")
