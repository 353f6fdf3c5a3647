"""Decode the audio track of any audio or video file at its own rate, keeping stereo, with a start/end range.

core.media.load_audio gives mono at a chosen rate (what encoders eat); audio preparation also needs the full-quality
(stereo, native-rate) signal for separation and for the muxed track, so it decodes here, streaming and trimming as it
goes so a long video never lands whole in memory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from core.errors import BadInputError


@dataclass
class Decoded:
    samples: np.ndarray  # [N, C] float32, C in (1, 2)
    rate: int
    source_duration: float | None  # whole file's audio duration when the decode reached its end

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.rate


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s"


def decode_audio(path: str | os.PathLike, start: float | None = None, end: float | None = None,
                 max_channels: int = 2) -> Decoded:
    """Samples of ``path``'s first audio stream in [start, end), as float32 [N, C] at the stream's rate.

    Raises BadInputError for a missing file, no audio stream, an undecodable codec, a range outside the audio, or
    zero-length audio.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise BadInputError(f"audio file not found: {path}")
    start = float(start or 0.0)
    if start < 0:
        raise BadInputError(f"start {_fmt(start)} is negative; use a time within {name}")
    if end is not None and end <= start:
        raise BadInputError(f"end {_fmt(end)} must be after start {_fmt(start)}")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise BadInputError(f"cannot read {name}: not a media file or unsupported format ({exc.strerror or exc})") from exc
    with container:
        if not container.streams.audio:
            kind = "video" if container.streams.video else "file"
            raise BadInputError(f"no audio stream in {name} (this {kind} has no sound track)")
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # FFmpeg knows no decoder for this stream's codec
            raise BadInputError(f"cannot decode the audio of {name}: unsupported audio codec; "
                                "convert it to WAV, MP3, AAC or FLAC first")
        codec = stream.codec_context.name
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        if rate <= 0:
            raise BadInputError(f"cannot decode the audio of {name}: unknown sample rate (codec {codec})")
        channels = min(max(stream.channels or 1, 1), max_channels)
        resampler = av.AudioResampler(format="fltp", layout="mono" if channels == 1 else "stereo", rate=rate)
        first = int(round(start * rate))
        last = None if end is None else int(round(end * rate))
        pieces: list[np.ndarray] = []
        position = 0
        reached_end = True
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    position = _take(out.to_ndarray(), position, first, last, pieces)
                if last is not None and position >= last:
                    reached_end = False
                    break
            if reached_end:
                for out in resampler.resample(None):
                    position = _take(out.to_ndarray(), position, first, last, pieces)
        except av.FFmpegError as exc:
            raise BadInputError(f"cannot decode the audio of {name}: unsupported or corrupt {codec} stream ({exc})") from exc
    total = position / rate if reached_end else None
    if reached_end and position == 0:
        raise BadInputError(f"the audio track of {name} is empty (zero length)")
    if total is not None and first >= position:
        raise BadInputError(f"start {_fmt(start)} is past the end of {name} ({_fmt(total)} of audio)")
    if total is not None and last is not None and last > position + rate // 25:
        raise BadInputError(f"end {_fmt(end)} is past the end of {name} ({_fmt(total)} of audio); "
                            f"choose a range within 0-{_fmt(total)}")
    samples = np.concatenate(pieces, axis=1).T if pieces else np.zeros((0, channels), np.float32)
    if samples.shape[0] == 0:
        raise BadInputError(f"the chosen range of {name} holds no audio")
    return Decoded(np.ascontiguousarray(samples, dtype=np.float32), rate, total)


def _take(block: np.ndarray, position: int, first: int, last: int | None, pieces: list[np.ndarray]) -> int:
    """Keep the part of ``block`` ([C, n], starting at sample ``position``) inside [first, last); return the new position."""
    n = block.shape[1]
    lo = max(first - position, 0)
    hi = n if last is None else min(last - position, n)
    if hi > lo:
        pieces.append(block[:, lo:hi].copy())
    return position + n


def duration_of(path: str | os.PathLike) -> float:
    """Audio duration from the container header (0 when unknown); for UI defaults, not for exact work."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return 0.0
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return container.duration / av.time_base if container.duration else 0.0
    except (av.FFmpegError, OSError):
        return 0.0


__all__ = ["Decoded", "decode_audio", "duration_of"]
