"""Audio from any container/codec (incl. a video's audio track) as float32 at a chosen rate; atomic WAV writing."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from core.errors import BadInputError
from core.media._common import decode_error, frame_time, frames_from, open_input, temp_path_for

# Decoders may emit up to a codec frame of padding past the declared end (AAC: 1024-2048 samples); it is dropped.
_MAX_PADDING_S = 0.1


def iter_audio(
    path: str | os.PathLike, sr: int, layout: str = "mono", start: float = 0.0
) -> Iterator[np.ndarray]:
    """Yield float32 [channels, n] chunks resampled to `sr`, beginning exactly at `start` seconds.

    Time zero is the file's (its video's first timestamp when it has one), shared with iter_video_frames:
    audio before it (codec priming) is dropped and a stream that begins later is preceded by silence, so
    audio and picture stay aligned.
    """
    p = Path(path)
    with open_input(p) as container:
        if not container.streams.audio:
            raise BadInputError(f"{p.name} has no audio stream")
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sr)
    to_skip = None  # samples before `start` still to drop (negative: silence to insert)
    try:
        with frames_from(p, "audio", start) as (frames, _stream, zero):
            for frame in _then_flush(frames):
                if to_skip is None and frame is not None:
                    first = frame_time(frame)
                    to_skip = round((start - (first - zero if first is not None else 0.0)) * sr)
                    if to_skip < 0:
                        yield np.zeros((len(av.AudioLayout(layout).channels), -to_skip), dtype=np.float32)
                        to_skip = 0
                if to_skip is None:  # stream had no frames at all
                    return
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray()
                    if to_skip:
                        dropped = min(to_skip, chunk.shape[1])
                        chunk, to_skip = chunk[:, dropped:], to_skip - dropped
                    if chunk.shape[1]:
                        yield chunk
    except av.FFmpegError as exc:
        raise decode_error(p, exc) from exc


def _then_flush(frames):
    """Decoded audio frames, then `None` so the resampler emits its held-back tail."""
    yield from frames
    yield None


def load_audio(
    path: str | os.PathLike, sr: int = 16000, start: float | None = None, end: float | None = None
) -> np.ndarray:
    """Mono float32 samples at `sr` covering [start, end) seconds (end clipped to the file's end)."""
    from core.media.probe import probe

    p = Path(path)
    info = probe(p)
    if not info.has_audio:
        raise BadInputError(f"{p.name} has no audio stream")
    begin = float(start or 0.0)
    duration = info.audio_duration or info.duration
    if begin < 0 or (end is not None and end <= begin):
        raise BadInputError(f"bad audio range {start}..{end} s for {p.name}")
    if duration and begin >= duration:
        raise BadInputError(f"audio range starts at {begin:.2f}s, after the end of {p.name} ({duration:.2f}s)")
    wanted = None if end is None else int(round((float(end) - begin) * sr))
    chunks: list[np.ndarray] = []
    have = 0
    for chunk in iter_audio(p, sr, "mono", begin):
        chunks.append(chunk[0])
        have += chunk.shape[1]
        if wanted is not None and have >= wanted:
            break
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if duration:
        declared = int(round((duration - begin) * sr))
        if samples.size - declared <= _MAX_PADDING_S * sr:  # codec padding, not an underestimated duration
            wanted = declared if wanted is None else min(wanted, declared)
    if wanted is not None:
        samples = samples[:wanted]
    if samples.size == 0:
        raise BadInputError(f"no audio in the range {begin:.2f}..{end} s of {p.name}")
    return np.ascontiguousarray(samples, dtype=np.float32)


def save_wav(path: str | os.PathLike, samples: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    """Write [n] or [n, channels] float samples as WAV via a temporary file renamed into place."""
    p = Path(path)
    data = np.asarray(samples, dtype=np.float32)
    if subtype.startswith("PCM"):
        data = np.clip(data, -1.0, 1.0)
    tmp = temp_path_for(p)
    try:
        sf.write(str(tmp), data, int(sr), subtype=subtype, format="WAV")
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p
