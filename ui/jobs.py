"""Running engine jobs from the studio: Preview / Generate / Stop wiring shared by every tab, with real cancellation.

A Generate handler is a generator: the job runs on a worker thread while the handler yields the progress line
("40% · rendering 40/100 frames · 12 s left · 35 s elapsed") into the tab's status text, then the result. The job's
cancel event is set when the creator presses Stop, when an API client cancels (``job.cancel()`` closes the handler),
when the browser tab closes (``demo.unload``), or when the server is asked to stop; the job then ends within one
batch, releases the GPU lock, and the next queued job starts.

Streamed results: a tab whose result is a ``streamed_video(...)`` (a drop-in for ``gr.Video``) shows the video growing
while the job renders. ``stream_job`` asks the engine for playable segments (``run_job(on_segment=...)``, see
``core.media.segments``) and files them under the browser session; ``wire`` starts, with Generate, a private
watcher event that yields them into a video above the result (each segment about a second, with its sound), and the
finished file replaces it at the end. The API endpoints are unchanged: their
outputs are the tab's own, the final file.
"""
from __future__ import annotations

import queue
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


class _Stream:
    """The segments of the job a browser session is running, in order; None marks the end."""

    def __init__(self) -> None:
        self.segments: queue.Queue = queue.Queue()
        self.started = time.monotonic()


_STREAMS: dict[str, _Stream] = {}


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
    """Stop every job this browser session (or API client) started, and end its live session."""
    with _SESSIONS_LOCK:
        events = list(_SESSIONS.get(_session(request), ()))
        live = _LIVE.pop(_session(request), None)
    for event in events:
        event.set()
    if live is not None:
        live.cancel()


_LIVE: dict[str, Any] = {}  # browser session -> its open core.sessions.LiveSession (the Live tab)


def attach_live(request: gr.Request | None, live: Any) -> None:
    """Tie a live session to this browser session: Stop, a closed tab (``cancel_session``) end it."""
    with _SESSIONS_LOCK:
        _LIVE[_session(request)] = live


def live_of(request: gr.Request | None) -> Any:
    """This browser session's live session (open or ended), or None."""
    with _SESSIONS_LOCK:
        return _LIVE.get(_session(request))


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
    stream = _Stream()
    with _SESSIONS_LOCK:
        _STREAMS[session] = stream
    options = {**options, "on_segment": stream.segments.put}
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
        stream.segments.put(None)
        with _SESSIONS_LOCK:
            if _STREAMS.get(session) is stream:
                del _STREAMS[session]


def watch_stream(request: gr.Request = None) -> Iterator[Any]:
    """Yield the segments of the job this browser session starts (within a minute of the click), until it ends.
    ``wire`` runs it beside Generate and cancels it when Generate ends."""
    session, since = _session(request), time.monotonic()
    stream = None
    while stream is None:
        with _SESSIONS_LOCK:
            found = _STREAMS.get(session)
        if found is not None and found.started >= since - 1.0:
            stream = found
        elif time.monotonic() - since > 60:
            return
        else:
            yield gr.skip()
            time.sleep(POLL_SECONDS)
    while True:
        try:
            segment = stream.segments.get(timeout=POLL_SECONDS)
        except queue.Empty:
            yield gr.skip()  # a yield every poll: Gradio can cancel the handler only there
            continue
        if segment is None:
            return
        yield str(segment.path)


def streamed_video(**kwargs: Any) -> gr.Video:
    """A result ``gr.Video(**kwargs)`` that shows the job's output while it renders: a second video, shown only while
    a job runs, is laid out just above it and plays each new segment (about a second, with its sound) as it is
    encoded (``wire`` feeds it). Returns the result component.

    Not Gradio's ``streaming=True`` video (one HLS stream): that runs the ffmpeg and ffprobe executables, which the
    studio does not require (PyAV brings FFmpeg as a library); where they are installed, ``streaming=True`` here is
    the whole change."""
    elem_id = kwargs.get("elem_id")
    stream = gr.Video(label=f"{kwargs.get('label', 'Result')}: the latest second, as it is encoded", autoplay=True,
                      interactive=False, visible=False, height=kwargs.get("height"),
                      elem_id=f"{elem_id}-stream" if elem_id else None)
    result = gr.Video(**kwargs)
    result.growing = stream  # the streaming video wire() feeds
    return result


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
    stream = next((o.growing for o in generate_outputs if getattr(o, "growing", None) is not None), None)
    preview_event = row.preview.click(run_action(gpu(preview_fn)), inputs, preview_outputs,
                                      api_name=f"{engine}_preview")
    row.generate.click(lambda: busy, None, [row.generate, row.stop], queue=False, api_visibility="private")
    watchers = []
    if stream is not None:  # the result grows in the streaming video while the job runs; the final file replaces it
        # Registered before Generate's own event: the browser starts a click's events in this order.
        shown = row.generate.click(lambda: gr.update(visible=True), None, [stream], queue=False,
                                   api_visibility="private")
        watchers.append(shown.then(watch_stream, None, [stream], api_visibility="private", show_progress="hidden",
                                   concurrency_limit=None))
    # One progress text: the status line under the buttons (share, stage, time left, time elapsed); no overlay,
    # whose own timer restarts at every streamed line.
    generate_event = row.generate.click(run_action(gpu(generate_fn)), inputs, generate_outputs, api_name=engine,
                                        show_progress="hidden")
    # Idle again however the job ended: Gradio's .then() does not follow a failed event (a refused input), .failure()
    # does. The streamed preview hides then too.
    for ended in (generate_event.then, generate_event.failure):
        ended(lambda: idle, None, [row.generate, row.stop], queue=False, api_visibility="private")
        if stream is not None:
            ended(lambda: gr.update(visible=False), None, [stream], cancels=watchers, queue=False,
                  api_visibility="private")

    # The status says "stopped" only once the cancel has gone through, so no progress line still in flight from
    # the closed handler can overwrite it.
    stopped = row.stop.click(cancel_session, None, None, cancels=[generate_event, preview_event, *watchers],
                             queue=False, api_visibility="private")
    stopped.then(lambda: (*idle, "stopped"), None, [row.generate, row.stop, row.status], queue=False,
                 api_visibility="private")
