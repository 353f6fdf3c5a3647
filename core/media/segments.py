"""Streamed results: short playable MP4 segments (picture and sound) cut from the frames a job encodes.

``SegmentTee(writer, emit)`` sees every batch the job's ``VideoWriter`` gets (``EncoderThread(..., segments=tee)``
hands it over after the writer has taken the batch) and, once at least ``min_seconds`` of frames have gathered at a
batch boundary, writes them with their slice of the writer's audio to ``<folder>/segment_NNNN.mp4`` and calls
``emit(Segment)``. The last segment is cut when the tee closes.

Contract: the final file never depends on the tee. The tee reads the audio from its own copy of the writer's audio
source and encodes its own files, so the job's output is bit-identical with streaming on or off; a failure in the tee
is the job's failure (the writer thread raises it in the producer, like an encoder error). Memory: at most
``min_seconds`` plus one batch of frames, and the audio of one segment.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.media.writer import VideoWriter, _AudioFeed


@dataclass(frozen=True)
class Segment:
    """One finished piece of a streamed result: ``path`` plays on its own, from ``start_s`` to ``end_s`` of the
    output's timeline."""

    path: Path
    index: int
    start_s: float
    end_s: float
    frames: int


class SegmentTee:
    """Cuts the frames written to ``writer`` into playable segments and hands each to ``emit`` as it is finished."""

    def __init__(self, writer: VideoWriter, emit: Callable[[Segment], None], folder: str | Path,
                 min_seconds: float = 1.0):
        self.writer, self.emit = writer, emit
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.min_frames = max(1, round(float(min_seconds) * writer.fps))
        self._audio = _AudioFeed(writer.audio_source) if writer.audio_source is not None else None
        self._frames: list[np.ndarray] = []
        self._done = 0  # frames already in emitted segments
        self._taken = 0  # audio samples already in emitted segments
        self.count = 0

    def write(self, batch: np.ndarray) -> None:
        """A batch the writer has just taken ([B, H, W, 3] or one frame); cut a segment once enough has gathered."""
        arr = np.asarray(batch)
        self._frames.extend(arr[None] if arr.ndim == 3 else arr)
        if len(self._frames) >= self.min_frames:
            self._cut()

    def close(self) -> None:
        """Cut the remainder (the writer is done)."""
        if self._frames:
            self._cut()

    def _cut(self) -> None:
        frames, self._frames = np.stack(self._frames), []
        start, end = self._done / self.writer.fps, (self._done + len(frames)) / self.writer.fps
        audio = self._audio_until(end)
        if audio is not None and len(audio[0]) == 0:  # past the end of the sound: the writer drops these frames too
            return
        path = self.folder / f"segment_{self.count:04d}.mp4"
        with VideoWriter(path, fps=self.writer.rate, size=self.writer.size, audio=audio, crf=self.writer.crf,
                         preset="veryfast") as out:
            out.write(frames)
        written = out.frames_written
        segment = Segment(path, self.count, start, start + written / self.writer.fps, written)
        self._done += len(frames)
        self.count += 1
        self.emit(segment)

    def _audio_until(self, seconds: float) -> tuple[np.ndarray, int] | None:
        """The writer's audio from the end of the last segment to ``seconds``, as ([n, C] float32, rate)."""
        if self._audio is None:
            return None
        feed = self._audio
        feed.fill_to(seconds)
        n = max(0, min(round(seconds * feed.rate), feed.pulled) - self._taken)
        block, feed._pending = feed._pending[:, :n], feed._pending[:, n:]
        self._taken += n
        return np.ascontiguousarray(block.T), feed.rate
