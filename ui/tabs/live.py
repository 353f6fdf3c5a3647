"""Tab "Live": speak into the microphone and the avatar of an idle video speaks back (the live engine's session,
``core.engines.lipdub.live``, through ``core.sessions``).

Start prepares the idle video (the lip-dub preparation cache: a second Start on the same video is instant) and opens
the session, which holds the GPU until Stop, a closed tab, the server stopping, or no audio for the idle timeout.
Transport is Gradio's own streaming (fastrtc would move the pinned gradio 6.31.0 to 5.50.0): the microphone is a
streaming ``gr.Audio`` sending a chunk every ``STREAM_EVERY`` seconds; each chunk's ready frames go back, with their
own audio, as one short MP4 segment that the output ``gr.Video`` plays as it arrives. (Gradio's ``streaming=True``
video would join them into one HLS stream, but it runs the ffmpeg and ffprobe executables, which the studio does not
require.) The latency a creator sees is the chunk length (0.5 s) + the look-ahead (0.16 s) + the compute + loading
the segment in the player: on the order of 1 s, where a WebRTC transport would be bounded by the 40 ms audio frames,
the look-ahead and the compute.
"""
from __future__ import annotations

import threading
import time

import gradio as gr
import numpy as np

from core import sessions
from core.errors import JobCancelled
from core.engines.lipdub.live.request import LiveRequest
from core.media import VideoWriter
from core.request import parse_box, parse_point
from ui.components import SETTINGS, run_action
from ui.jobs import attach_live, live_of

STREAM_EVERY = 0.5  # seconds of microphone audio per push


def _path(value) -> str | None:
    return None if value in (None, "") else str(getattr(value, "name", value))


def make_request(idle, version, face, point, box, lookahead_ms, device, dtype) -> LiveRequest:
    if not _path(idle):
        raise gr.Error("drop an idle video (a few seconds looking at the camera) or a photo first",
                       print_exception=False)
    return LiveRequest(video=_path(idle), version=version,
                       face=int(face) if face not in (None, "") and int(face) >= 0 and not (point or box) else None,
                       point=parse_point(point) if point and not box else None, box=parse_box(box) if box else None,
                       lookahead_ms=int(lookahead_ms), **SETTINGS.request_fields(device, dtype))


def start(idle, version, face, point, box, lookahead_ms, device, dtype, request: gr.Request = None):
    """Prepare the idle video and open the session (one at a time per GPU)."""
    old = live_of(request)
    if old is not None:
        old.close("done")
    req = make_request(idle, version, face, point, box, lookahead_ms, device, dtype)
    session = sessions.open_session("lipdub", req)
    attach_live(request, session)
    session.ui = {"segments": 0, "lock": threading.Lock()}
    return ("**live** · press Record on the microphone and speak (allow the microphone when the browser asks)",
            gr.update(interactive=False), gr.update(interactive=True))


def push(chunk, request: gr.Request = None):
    """One microphone chunk in, the frames it made ready out (a playable segment with their sound)."""
    session = live_of(request)
    if session is None:
        return gr.skip(), "no live session: press Start first"
    if session.closed:  # Stop keeps its own line; a timeout or a failure says why
        ended = f"the live session ended ({session.status}{': ' if session.ctx.warnings else ''}" \
                f"{'; '.join(session.ctx.warnings)}): press Start"
        return gr.skip(), gr.skip() if session.status == "cancelled" else ended
    if chunk is None:
        return gr.skip(), gr.skip()
    rate, data = chunk
    samples = np.asarray(data, dtype=np.float32)
    if np.issubdtype(np.asarray(data).dtype, np.integer):
        samples /= 32768.0
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    with session.ui["lock"]:
        try:
            got = session.push(samples, int(rate))
        except JobCancelled:  # Stop landed while this chunk waited: Stop's line stays
            return gr.skip(), gr.skip()
        if session.closed:  # ... or while it was drawn
            return gr.skip(), gr.skip()
        if got is None:
            return gr.skip(), _status(session, None)
        t0 = time.perf_counter()
        path = session.ctx.job_dir / "stream" / f"segment_{session.ui['segments']:05d}.mp4"
        session.ui["segments"] += 1
        with session.ctx.stage("encode"), VideoWriter(path, fps=session.impl.fps, size=session.impl.size,
                                                      audio=(got.audio, session.impl.sample_rate),
                                                      preset="ultrafast") as writer:
            writer.write(got.frames)
        got.steps["encode"] = time.perf_counter() - t0
    if session.closed:
        return gr.skip(), gr.skip()
    session.ctx.log(f"live frames {got.start}-{got.end - 1}: " + ", ".join(f"{k} {1000 * v:.0f} ms"
                                                                           for k, v in got.steps.items()))
    return str(path), _status(session, got)


def _status(session, got) -> str:
    line = f"**live** · {session.impl.done} frames"
    if got is not None:
        line += f" · last {len(got.frames)} in {1000 * sum(got.steps.values()):.0f} ms"
    return line + "".join(f" · ⚠ {w}" for w in session.ctx.warnings)


def stop(request: gr.Request = None):
    session = live_of(request)
    if session is not None:
        session.close("cancelled")
    return "stopped: the GPU is free", gr.update(interactive=True), gr.update(interactive=False)


def build() -> None:
    with gr.Row():
        with gr.Column(scale=4):
            idle = gr.File(label="Idle video (a few seconds looking at the camera) or a photo", type="filepath",
                           file_types=["video", "image"], height=110, elem_id="live-idle")
            with gr.Row():
                version = gr.Radio([("MuseTalk 1.5", "v15"), ("MuseTalk 1.0", "v1")], value="v15", label="Model")
                face = gr.Number(value=-1, precision=0, label="Face number from the left (-1 = largest)")
            with gr.Row():
                point = gr.Textbox(label="Face at point x,y", placeholder="e.g. 320,180")
                box = gr.Textbox(label="Manual box x1,y1,x2,y2 (skips detection)", placeholder="x1,y1,x2,y2",
                                 elem_id="live-box")
            with gr.Accordion("Advanced", open=False), gr.Row():
                lookahead = gr.Slider(120, 1000, value=LiveRequest.lookahead_ms, step=10, label="Look-ahead (ms)")
                device = gr.Dropdown(["auto", "cpu", "cuda"], value="auto", label="Device")
                dtype = gr.Dropdown(["auto", "fp32", "fp16", "bf16"], value="auto", label="Precision")
            with gr.Row(equal_height=True):
                start_button = gr.Button("Start", variant="primary", scale=2, elem_id="live-start")
                stop_button = gr.Button("Stop", variant="stop", interactive=False, scale=1, elem_id="live-stop")
            status = gr.Markdown(elem_classes=["job-status"], elem_id="live-status")
            mic = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label="Microphone",
                           elem_id="live-mic")
        with gr.Column(scale=5):
            out = gr.Video(label="Live", autoplay=True, interactive=False, height=360, elem_id="live-out")

    inputs = [idle, version, face, point, box, lookahead, device, dtype]
    start_button.click(run_action(start), inputs, [status, start_button, stop_button], api_name="live_start")
    mic.stream(run_action(push), [mic], [out, status], stream_every=STREAM_EVERY, time_limit=None,
               concurrency_limit=None, api_visibility="private", show_progress="hidden")
    stop_button.click(stop, None, [status, start_button, stop_button], queue=False, api_name="live_stop")
