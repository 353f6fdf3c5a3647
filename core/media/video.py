"""Streaming video decode resampled to a constant frame rate by presentation timestamp, rotation applied."""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np

from core.errors import BadInputError
from core.media._common import decode_error, frame_time, frames_from
from core.media.probe import MediaInfo, frame_rotation, probe

# A source frame whose time is within this of an output instant counts as "at or before" it (timestamp rounding).
_TIME_EPS = 1e-4


def count_output_frames(info: MediaInfo, fps: float = 25.0, start: float = 0.0, end: float | None = None) -> int:
    """Frames iter_video_frames() yields: one per instant start + k/fps that lies before min(end, video end)."""
    if info.kind != "video":
        raise BadInputError(f"{info.name} is not a video ({info.kind})")
    if fps <= 0:
        raise BadInputError(f"frame rate must be positive, got {fps}")
    stop = info.video_duration if end is None else min(float(end), info.video_duration)
    if start < 0 or (end is not None and end <= start):
        raise BadInputError(f"bad time range {start}..{end} for {info.name}")
    if start >= stop:
        raise BadInputError(f"start {start:.2f}s is beyond the end of {info.name} ({info.video_duration:.2f}s)")
    return max(1, math.ceil((stop - start) * fps - 1e-6))


def iter_video_frames(
    path: str | os.PathLike, fps: float = 25.0, start: float = 0.0, end: float | None = None,
    on_short: Callable[[str], None] | None = None,
) -> Iterator[np.ndarray]:
    """Yield upright RGB uint8 HxWx3 frames at a constant `fps`.

    Output frame k shows the latest source frame whose timestamp is <= start + k/fps (the first frame when
    none is), so frames are duplicated or dropped as needed and variable-frame-rate input stays in sync.
    Exactly count_output_frames(probe(path), fps, start, end) frames are produced; memory holds one frame.
    A file that decodes shorter than its header says (truncated) holds its last readable frame for the rest, and
    ``on_short`` receives one line saying how much of the video could be read.
    """
    info = probe(path)
    n_out = count_output_frames(info, fps, start, end)
    try:
        seek_to = 0.0 if info.container == "avi" else float(start)  # AVI frames are timed by count: decode all
        with frames_from(Path(path), "video", seek_to) as (frames, stream, zero):
            yield from _resample(info, frames, stream, zero, n_out, float(fps), float(start), on_short)
    except av.FFmpegError as exc:
        raise decode_error(Path(info.path), exc) from exc


def _resample(info, frames, stream, zero, n_out, fps, start, on_short=None) -> Iterator[np.ndarray]:
    k = 0
    held = None  # latest source frame at or before the next output instant
    held_rgb = None  # its converted picture, made once however many times it is shown
    size = None  # stored (width, height) fixed by the first frame; later frames are scaled to it
    # AVI stores decode order without presentation times (B-frames come out mis-stamped): it is constant-rate
    # by design, so its frames are timed by their count.
    count_timed = info.container == "avi"
    index = 0
    for frame in frames:
        t = None if count_timed else frame_time(frame)
        t = (index / info.fps if info.fps else 0.0) if t is None else t - zero
        index += 1
        while k < n_out and t > start + k / fps + _TIME_EPS:
            if held is None:  # the video starts after this instant: show its first frame
                held, held_rgb = frame, None
            if held_rgb is None:
                size = size or (held.width, held.height)
                held_rgb = _to_rgb(held, size, stream)
            yield held_rgb.copy()  # a copy: the caller may draw on it while it is shown again
            k += 1
        if k >= n_out:
            return
        held, held_rgb = frame, None
    if held is None:
        raise BadInputError(f"{info.name}: no video frames at or after {start:.2f}s")
    # Past the last decoded frame (container duration longer than the frames): hold the last one.
    if on_short is not None and n_out - k > 1:
        total = start + n_out / fps
        read = k + 1  # the held frame itself was read
        on_short(f"{info.name} is truncated: only {start + read / fps:.2f} s of its {total:.2f} s of video could be "
                 f"read ({read} of {n_out} frames); its last readable frame is held for the rest")
    while k < n_out:
        if held_rgb is None:
            size = size or (held.width, held.height)
            held_rgb = _to_rgb(held, size, stream)
        yield held_rgb.copy()
        k += 1


def _to_rgb(frame, size: tuple[int, int], stream) -> np.ndarray:
    w, h = size
    if (frame.width, frame.height) != (w, h):
        rgb = frame.to_ndarray(format="rgb24", width=w, height=h)
    else:
        rgb = frame.to_ndarray(format="rgb24")
    quarter_turns = frame_rotation(frame, stream) // 90
    if quarter_turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=-quarter_turns))  # np.rot90 turns counter-clockwise
    return rgb


def iter_video_batches(
    path: str | os.PathLike, batch_size: int, fps: float = 25.0, start: float = 0.0, end: float | None = None
) -> Iterator[np.ndarray]:
    """iter_video_frames() grouped into [B,H,W,3] uint8 arrays; the last batch may be shorter."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch: np.ndarray | None = None
    filled = 0
    for frame in iter_video_frames(path, fps=fps, start=start, end=end):
        if batch is None:
            batch = np.empty((batch_size, *frame.shape), dtype=np.uint8)
        batch[filled] = frame
        filled += 1
        if filled == batch_size:
            yield batch
            batch, filled = None, 0
    if batch is not None and filled:
        yield batch[:filled]
