"""Shared helpers: input checks that turn every failure into a one-line BadInputError, atomic temp names."""
from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import av

from core.errors import BadInputError


def check_file(path: str | os.PathLike) -> Path:
    """Return the path if it names a non-empty regular file; otherwise raise BadInputError naming it."""
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"file not found: {p}")
    if not p.is_file():
        raise BadInputError(f"not a file: {p}")
    if p.stat().st_size == 0:
        raise BadInputError(f"{p.name} is empty (0 bytes)")
    return p


@contextlib.contextmanager
def open_input(path: str | os.PathLike) -> Iterator[av.container.InputContainer]:
    """Open a media file for reading; FFmpeg failures become BadInputError naming the file."""
    p = check_file(path)
    try:
        container = av.open(str(p), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise BadInputError(f"{p.name} is not a readable audio/video/image file ({_short(exc)})") from exc
    try:
        yield container
    finally:
        container.close()


def decode_error(p: Path, exc: Exception) -> BadInputError:
    """The error raised when a file opened fine but its data cannot be decoded."""
    return BadInputError(f"{p.name} is corrupt or truncated: decoding failed ({_short(exc)})")


def first_video_stream(container) -> av.VideoStream | None:
    """The first real video stream (cover art in music files is not video)."""
    for s in container.streams.video:
        if not (s.disposition & av.stream.Disposition.attached_pic):
            return s
    return None


def timeline_zero(container) -> float:
    """Time zero of a file in seconds: its video's first timestamp, else its audio's, else the container's.

    Frames and samples are both timed from here, so a video's own audio stays in sync with its frames and
    codec priming before the first picture (MPEG-TS, AVI) is dropped.
    """
    video = first_video_stream(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    for stream in (video, audio):
        if stream is not None and stream.start_time is not None and stream.time_base is not None:
            return float(stream.start_time * stream.time_base)
    return container.start_time / 1e6 if container.start_time is not None else 0.0


def frame_time(frame) -> float | None:
    return float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base is not None else None


@contextlib.contextmanager
def frames_from(path: Path, kind: str, start: float):
    """(decoded frames iterator, stream, time zero) for the first `kind` stream, the first frame at or before `start`.

    Seeking lands on the keyframe before `start` where the file has an index; where it lands after `start`
    (MPEG-TS and other index-less files) the file is decoded from its beginning instead.
    """
    for attempt in ("seek", "from_start"):
        with open_input(path) as container:
            stream = first_video_stream(container) if kind == "video" else container.streams.audio[0]
            stream.thread_type = "AUTO"
            zero = timeline_zero(container)
            frames = container.decode(stream)
            if start > 0 and attempt == "seek":
                container.seek(int((start + zero) / stream.time_base), stream=stream, backward=True)
                frames = container.decode(stream)
                try:
                    first = next(frames, None)
                except av.FFmpegError:
                    first = None
                t = frame_time(first) if first is not None else None
                if t is None or t - zero > start + 1e-4:
                    continue  # landed past `start`: reopen and decode from the beginning
                frames = itertools.chain([first], frames)
            yield frames, stream, zero
            return


def temp_path_for(path: Path) -> Path:
    """A unique hidden name next to `path` with the same suffix, so the final rename is atomic."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.part{path.suffix}")


def _short(exc: Exception) -> str:
    """FFmpeg's reason without the file path it repeats."""
    text = (getattr(exc, "strerror", None) or str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__
