"""Audio from any container/codec (incl. a video's audio track) as float32 at a chosen rate; atomic WAV writing.

``load_audio`` (what the engines' audio encoders eat) resamples as both references do, through ``librosa.load``:
decoded at the file's own rate, channels averaged, then ``soxr`` at high quality. libswresample's defaults, which
``iter_audio`` streams with, differ from it by up to 0.02 above 7 kHz on a 22.05 kHz speech file.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from core.errors import BadInputError
from core.media._common import decode_error, frame_time, frames_from, open_input, temp_path_for

# Decoders may emit up to a codec frame of padding past the declared end (AAC: 1024-2048 samples); it is dropped.
_MAX_PADDING_S = 0.1


def iter_audio(
    path: str | os.PathLike, sr: int, layout: str | None = "mono", start: float = 0.0
) -> Iterator[np.ndarray]:
    """Yield float32 [channels, n] chunks resampled to `sr`, beginning exactly at `start` seconds (``layout=None``:
    the stream's own channels).

    Time zero is the file's (its video's first timestamp when it has one), shared with iter_video_frames:
    audio before it (codec priming) is dropped and a stream that begins later is preceded by silence, so
    audio and picture stay aligned.
    """
    p = Path(path)
    with open_input(p) as container:
        if not container.streams.audio:
            raise BadInputError(f"{p.name} has no audio stream")
        layout = layout or container.streams.audio[0].layout.name
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
    """Mono float32 samples at `sr` covering [start, end) seconds (end clipped to the file's end).

    The samples are ``librosa.load(path, sr=sr)``'s (within 1e-6): decoded at the file's rate with all its channels,
    averaged to mono, resampled by ``soxr`` at quality HQ (librosa's default ``soxr_hq``) to ceil(n * sr / rate).
    """
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
    rate = info.audio_rate or sr
    native = _decode_mono(p, rate, begin, None if end is None else float(end) - begin)
    samples = resample(native, rate, sr)
    wanted = None if end is None else round((float(end) - begin) * sr)
    if duration:
        declared = round((duration - begin) * sr)
        if samples.size - declared <= _MAX_PADDING_S * sr:  # codec padding, not an underestimated duration
            wanted = declared if wanted is None else min(wanted, declared)
    if wanted is not None:
        samples = samples[:wanted]
    if samples.size == 0:
        raise BadInputError(f"no audio in the range {begin:.2f}..{end} s of {p.name}")
    return np.ascontiguousarray(samples, dtype=np.float32)


def _decode_mono(p: Path, rate: int, begin: float, seconds: float | None) -> np.ndarray:
    """float32 mono at the file's own `rate` from `begin`, `seconds` long (to the end when None): the channels'
    mean, as librosa's ``to_mono`` takes it."""
    wanted = None if seconds is None else round(seconds * rate)
    chunks: list[np.ndarray] = []
    have = 0
    for chunk in iter_audio(p, rate, None, begin):
        chunks.append(np.mean(chunk, axis=0))
        have += chunk.shape[1]
        if wanted is not None and have >= wanted:
            break
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return samples[:wanted] if wanted is not None else samples


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """[n] float32 at `rate_out` exactly as librosa's ``resample(res_type="soxr_hq")``: soxr HQ, then cut or
    zero-padded to ceil(n * rate_out / rate_in)."""
    if rate_in == rate_out or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    out = soxr.resample(samples.astype(np.float32, copy=False), rate_in, rate_out, quality="HQ")
    size = int(np.ceil(samples.size * rate_out / rate_in))
    return np.pad(out, (0, max(0, size - out.size)))[:size].astype(np.float32, copy=False)


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
