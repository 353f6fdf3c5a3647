"""Streaming H.264 + AAC writer: one encode, audio muxed as the video advances, atomic rename on success."""
from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from core.errors import BadInputError
from core.media._common import temp_path_for

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
_AAC_FRAME = 1024  # samples per AAC frame
_CONTAINERS = (".mp4", ".mov", ".m4v", ".mkv")  # those that carry H.264 + AAC


def frames_needed(audio_seconds: float, fps: float) -> int:
    """Video frames an engine should produce so the output lasts as long as the audio: the nearest whole number of
    frames, so picture and sound end within half a frame of each other.

    Both references floor instead (MuseTalk ``T = floor(L / 16000 * fps)``; MoDA likewise), which leaves up to one
    frame of audio with no picture (up to 40 ms at 25 fps, cut or shown over a frozen frame by the muxer). Rounding
    adds that frame once the remainder reaches half a frame; its audio window runs past the end into zero padding,
    as the last frames' windows already do in the references."""
    return int(math.floor(float(audio_seconds) * float(fps) + 0.5))


def _as_rate(fps) -> Fraction:
    rate = fps if isinstance(fps, Fraction) else Fraction(str(float(fps))).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


class _AudioFeed:
    """Pulls audio lazily (file or array) and encodes it to AAC in step with the video frames written so far."""

    def __init__(self, audio):
        if isinstance(audio, (str, os.PathLike)):
            from core.media.audio import iter_audio
            from core.media.probe import probe

            info = probe(audio)
            if not info.has_audio:
                raise BadInputError(f"{Path(audio).name} has no audio stream")
            self.rate = info.audio_rate if info.audio_rate in AAC_RATES else 48000
            self.layout = "mono" if info.audio_channels == 1 else "stereo"
            self._source = iter_audio(audio, self.rate, self.layout)
        else:
            samples, sr = audio
            samples = np.asarray(samples, dtype=np.float32)
            if samples.ndim == 1:
                samples = samples[:, None]
            if samples.ndim != 2 or samples.shape[1] not in (1, 2) or samples.shape[0] == 0:
                raise ValueError(f"audio samples must be [n] mono or [n, 2] stereo, got shape {samples.shape}")
            self.rate, self.layout = int(sr), ("mono" if samples.shape[1] == 1 else "stereo")
            if self.rate not in AAC_RATES:
                self.rate = 48000
                self._source = _resample_array(samples, int(sr), self.rate, self.layout)
            else:
                self._source = (block.T for block in _blocks(samples))
        self.channels = len(av.AudioLayout(self.layout).channels)
        self._pending = np.zeros((self.channels, 0), dtype=np.float32)
        self.pulled = 0  # samples taken from the source
        self.encoded = 0  # samples given to the encoder
        self.exhausted = False
        self.stream = None

    def add_stream(self, container) -> None:
        self.stream = container.add_stream("aac", rate=self.rate)
        self.stream.codec_context.layout = self.layout
        self.stream.codec_context.bit_rate = 64000 * self.channels

    @property
    def seconds(self) -> float:
        """Total length; exact once `exhausted`."""
        return self.pulled / self.rate

    def fill_to(self, seconds: float) -> None:
        want = int(math.ceil(seconds * self.rate))
        while not self.exhausted and self.pulled < want:
            chunk = next(self._source, None)
            if chunk is None:
                self.exhausted = True
                break
            self._pending = np.concatenate([self._pending, chunk.astype(np.float32, copy=False)], axis=1)
            self.pulled += chunk.shape[1]

    def encode_until(self, seconds: float, final: bool = False) -> list:
        """Encode whole AAC frames up to `seconds` (with `final`, the remainder too, then flush)."""
        target = min(int(round(seconds * self.rate)), self.pulled)
        packets = []
        while target - self.encoded >= _AAC_FRAME or (final and target > self.encoded):
            n = min(_AAC_FRAME, target - self.encoded)
            packets += self.stream.encode(self._frame(self._pending[:, :n]))
            self._pending = self._pending[:, n:]
            self.encoded += n
        if final:
            packets += self.stream.encode(None)
        return packets

    def _frame(self, block: np.ndarray) -> av.AudioFrame:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=self.layout)
        frame.sample_rate = self.rate
        frame.pts = self.encoded
        frame.time_base = Fraction(1, self.rate)
        return frame


def _blocks(samples: np.ndarray, size: int = 65536) -> Iterator[np.ndarray]:
    """[n, C] samples in row blocks (views, so a long track is never copied whole)."""
    for i in range(0, samples.shape[0], size):
        yield samples[i : i + size]


def _resample_array(samples: np.ndarray, sr: int, rate: int, layout: str) -> Iterator[np.ndarray]:
    """[n, C] samples at a rate AAC lacks -> [C, m] chunks at `rate`."""
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    for block in [*_blocks(samples), None]:
        frame = None
        if block is not None:  # packed float: one row of interleaved samples
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block).reshape(1, -1), format="flt", layout=layout)
            frame.sample_rate = sr
        for out in resampler.resample(frame):
            yield out.to_ndarray()


class VideoWriter:
    """Write RGB frames to an H.264 (yuv420p, BT.709) MP4 with optional AAC audio, atomically.

    `audio` is None, a path to any audio/video file (its first audio track, mono or stereo kept), or
    (float32 samples [n] mono or [n, 2] stereo, sample rate). Odd frame sizes get one repeated edge row/column
    (yuv420p needs even sizes). With audio the
    output lasts as long as the audio (within one frame): frames past its end are dropped (`frames_dropped`),
    and audio past the last written frame is cut. Nothing appears at `path` unless the writer closes cleanly.
    """

    def __init__(self, path, fps: float = 25.0, size: tuple[int, int] | None = None, audio=None, crf: int = 18,
                 preset: str = "medium"):
        self.path = Path(path)
        if self.path.suffix.lower() not in _CONTAINERS:
            raise ValueError(f"VideoWriter writes {', '.join(_CONTAINERS)} files, not {self.path.name}")
        self.rate = _as_rate(fps)
        self.fps = float(self.rate)
        self.size = tuple(size) if size is not None else None  # (W, H) expected of every frame
        self.crf, self.preset = int(crf), preset
        self.frames_written = 0
        self.frames_dropped = 0
        self.audio_source = audio  # as given: a streamed copy (core.media.segments) reads its own feed of it
        self._audio = _AudioFeed(audio) if audio is not None else None
        self._tmp = temp_path_for(self.path)
        self._container = None
        self._stream = None
        self._closed = False

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frames: np.ndarray) -> None:
        """Append one HxWx3 RGB uint8 frame or a [B,H,W,3] batch."""
        arr = np.asarray(frames)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"expected uint8 HxWx3 or BxHxWx3 RGB frames, got {arr.dtype} {arr.shape}")
        for frame in arr:
            self._write_one(frame)

    def _write_one(self, rgb: np.ndarray) -> None:
        if self._closed:
            raise ValueError("VideoWriter is closed")
        h, w = rgb.shape[:2]
        if self.size is None:
            self.size = (w, h)
        if (w, h) != self.size:
            raise ValueError(f"frame size {w}x{h} differs from the video size {self.size[0]}x{self.size[1]}")
        if self._container is None:
            self._open()
        n = self.frames_written
        if self._audio is not None:
            self._audio.fill_to((n + 1) / self.fps)
            if self._audio.exhausted and n >= frames_needed(self._audio.seconds, self.fps):
                self.frames_dropped += 1
                return
        pad_h, pad_w = h % 2, w % 2  # yuv420p needs even sizes: repeat the last row/column
        if pad_h or pad_w:
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range="MPEG")
        frame.pts = n
        frame.time_base = 1 / self.rate
        self._container.mux(self._stream.encode(frame))
        self.frames_written += 1
        if self._audio is not None:
            self._container.mux(self._audio.encode_until(self.frames_written / self.fps))

    def _open(self) -> None:
        w, h = self.size
        options = {"movflags": "+faststart"} if self.path.suffix.lower() != ".mkv" else {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self._tmp), mode="w", options=options)
        stream = self._container.add_stream("libx264", rate=self.rate)
        stream.width, stream.height = w + w % 2, h + h % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        cc = stream.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1  # BT.709, limited range
        self._stream = stream
        if self._audio is not None:
            self._audio.add_stream(self._container)

    def close(self) -> Path:
        """Flush encoders, finish the file and rename it to `path`."""
        if self._closed:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise ValueError(f"no frames were written to {self.path.name}")
        try:
            if self._audio is not None:
                end = self.frames_written / self.fps
                self._audio.fill_to(end)
                self._container.mux(self._audio.encode_until(end, final=True))
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._container = None
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Drop everything written so far; nothing is left at `path` or in the temp file."""
        self._closed = True
        if self._container is not None:
            try:
                self._container.close()
            except av.FFmpegError:
                pass
            self._container = None
        self._tmp.unlink(missing_ok=True)


class EncoderThread:
    """Encodes frame batches on its own thread so the accelerator keeps working while the CPU encodes.

    ``put(batch)`` hands over a [B, H, W, 3] uint8 batch; the queue holds at most ``depth`` batches, which caps the
    memory in flight. An encoder error is raised in the producer's thread at the next ``put`` or at exit. Use it as a
    context manager inside the ``VideoWriter``: leaving the block (normally or by an exception) drains and joins the
    thread, so a cancelled job never leaves it running. ``stage`` (e.g. ``ctx.stage``) times the encoding.
    ``segments`` (a ``core.media.segments.SegmentTee``, e.g. ``ctx.segments(writer)``; None = no stream) gets each
    batch after the writer, and cuts the streamed result's playable segments from them on this thread.
    """

    def __init__(self, writer: VideoWriter, stage=None, depth: int = 2, name: str = "encode", segments=None):
        self.writer = writer
        self.segments = segments
        self._stage = stage or (lambda _name: contextlib.nullcontext())
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self.error is None:
                try:
                    with self._stage("encode"):
                        self.writer.write(batch)
                    if self.segments is not None:
                        with self._stage("stream"):
                            self.segments.write(batch)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the producer's thread
                    self.error = exc

    def put(self, batch: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(batch)

    def __enter__(self) -> EncoderThread:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._queue.put(None)
        self._thread.join()
        if exc_type is None and self.error is None and self.segments is not None:
            with self._stage("stream"):
                self.segments.close()
        if exc_type is None and self.error is not None:
            raise self.error
