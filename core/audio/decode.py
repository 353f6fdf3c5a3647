"""The audio track of any audio or video file at its own rate, stereo kept, cut to a start/end range.

core.media.load_audio gives mono at a chosen rate (what encoders eat); audio preparation also needs the full-quality
signal (stereo, native rate) for separation and for the muxed track. It streams through core.media.iter_audio, so
time zero is the one the video frames use and a long video never lands whole in memory; this module adds the checks
and messages a creator needs (no audio stream, unknown codec, empty track, range outside the audio).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from core.errors import BadInputError

_END_SLACK_S = 1 / 25      # an end up to one video frame past the audio is accepted (and cut to the audio)
_MAX_PADDING_S = 0.1       # decoders may emit up to a codec frame past the declared end; dropped (as core.media does)


@dataclass
class Decoded:
    samples: np.ndarray  # [N, C] float32, C in (1, 2)
    rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.rate


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _stream_facts(path: Path) -> tuple[int, int]:
    """(sample rate, channels) of the first audio stream, with a creator-facing error when there is none to decode."""
    name = path.name
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise BadInputError(f"cannot read {name}: not a media file or unsupported format "
                            f"({exc.strerror or exc})") from exc
    with container:
        if not container.streams.audio:
            kind = "video" if container.streams.video else "file"
            raise BadInputError(f"no audio stream in {name} (this {kind} has no sound track)")
        context = container.streams.audio[0].codec_context
        if context is None:  # FFmpeg knows no decoder for this stream's codec
            raise BadInputError(f"cannot decode the audio of {name}: unsupported audio codec; "
                                "convert it to WAV, MP3, AAC or FLAC first")
        if not context.sample_rate:
            raise BadInputError(f"cannot decode the audio of {name}: unknown sample rate (codec {context.name})")
        return int(context.sample_rate), max(int(context.channels or 1), 1)


def decode_audio(path: str | os.PathLike, start: float | None = None, end: float | None = None,
                 max_channels: int = 2) -> Decoded:
    """Samples of ``path``'s first audio stream in [start, end) seconds, float32 [N, C] at the stream's own rate."""
    from core.media import iter_audio, probe

    path = Path(path)
    name = path.name
    if not path.is_file():
        raise BadInputError(f"audio file not found: {path}")
    start = float(start or 0.0)
    if start < 0:
        raise BadInputError(f"start {_fmt(start)} is negative; use a time within {name}")
    if end is not None and end <= start:
        raise BadInputError(f"end {_fmt(end)} must be after start {_fmt(start)}")
    rate, channels = _stream_facts(path)
    channels = min(channels, max_channels)
    info = probe(path)
    known = info.audio_duration or info.duration or 0.0
    if known and start >= known:
        raise BadInputError(f"start {_fmt(start)} is past the end of {name} ({_fmt(known)} of audio)")
    if known and end is not None and end > known + _END_SLACK_S:
        raise BadInputError(f"end {_fmt(end)} is past the end of {name} ({_fmt(known)} of audio); "
                            f"choose a range within 0-{_fmt(known)}")
    wanted = None if end is None else int(round((end - start) * rate))
    pieces: list[np.ndarray] = []
    have = 0
    for chunk in iter_audio(path, rate, "mono" if channels == 1 else "stereo", start):
        pieces.append(chunk)
        have += chunk.shape[1]
        if wanted is not None and have >= wanted:
            break
    samples = np.concatenate(pieces, axis=1).T if pieces else np.zeros((0, channels), np.float32)
    if wanted is None and known:
        expected = int(round((known - start) * rate))
        if samples.shape[0] - expected <= _MAX_PADDING_S * rate:  # else the header only estimated the duration
            wanted = expected
    if wanted is not None:
        if samples.shape[0] < wanted - _END_SLACK_S * rate:
            actual = start + samples.shape[0] / rate
            raise BadInputError(f"end {_fmt(end if end is not None else actual)} is past the end of {name} "
                                f"({_fmt(actual)} of audio); choose a range within 0-{_fmt(actual)}")
        samples = samples[:wanted]
    if samples.shape[0] == 0:
        if start == 0:
            raise BadInputError(f"the audio track of {name} is empty (zero length)")
        raise BadInputError(f"start {_fmt(start)} is past the end of {name}")
    return Decoded(np.ascontiguousarray(samples, dtype=np.float32), rate)


def duration_of(path: str | os.PathLike) -> float:
    """Audio duration from the file header (0 when unknown): a UI default, not for exact work."""
    from core.media import probe

    try:
        _stream_facts(Path(path))
        return float(probe(path).audio_duration or 0.0)
    except (BadInputError, OSError):  # an unreadable file simply has no default end
        return 0.0
