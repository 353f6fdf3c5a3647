"""Shared helpers: input checks that turn every failure into a one-line BadInputError, atomic temp names."""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from collections.abc import Iterator

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


def container_start(container) -> float:
    """Common time zero of all streams in seconds (FFmpeg's container start time)."""
    return container.start_time / 1e6 if container.start_time is not None else 0.0


def temp_path_for(path: Path) -> Path:
    """A unique hidden name next to `path` with the same suffix, so the final rename is atomic."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.part{path.suffix}")


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
