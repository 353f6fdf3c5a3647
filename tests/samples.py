"""Synthetic test media, written with PyAV directly (independent of core.media, which the tests check).

Import as `from tests.samples import make_video, ...` (tests run with `python -m pytest` from the repo root).
Stable helpers, shared by every engine's tests:

- make_video(path, seconds=3.0, fps=30, size=(160, 120), tone_hz=440.0, rotation=0, vfr=False,
             pattern="counter") -> Path
    H.264 video (container from the suffix: .mp4/.mkv/.mov; .webm gives VP9 + Opus). Each frame shows its
    index as 12 binary cells in the top third (read it back with read_counter(frame)), a red block
    bottom-left and a moving white bar. tone_hz: a sine track (AAC 44.1 kHz or Opus 48 kHz, mono,
    amplitude 0.5), or None for no audio. rotation: 0/90/180/270 degrees clockwise a player must turn the
    stored picture (display matrix, like a phone's portrait video); the displayed picture is the upright
    pattern of `size`. vfr: irregular frame durations (see frame_times()). pattern: "counter", or "noise"
    (counter + deterministic texture, a hard case for codecs).
- frame_times(seconds, fps, vfr=False) -> list[float]: presentation times (s) of make_video's frames.
- counter_frame(index, size, pattern="counter") -> np.ndarray: the upright RGB picture of frame `index`.
- read_counter(frame) -> int: the frame index drawn by make_video on an upright RGB frame of the original size.
- make_tone(path, seconds, sr=16000, hz=440.0, amplitude=0.5, onset=0.0) -> Path: a sine (silent before
    `onset` s); format from the suffix: .wav .mp3 .m4a .ogg (Opus) .flac.
- speech_wav(path, text=...) -> Path: English speech from espeak-ng (22.05 kHz mono WAV); skips if missing (fails in
CI).
- portrait_path() -> Path: scikit-image's astronaut.png (512x512 RGB, public domain).
- talking_clip(path, seconds=2.0, fps=25, size=(256, 256), audio="tone") -> Path: the astronaut with a slight
    zoom/drift over time, plus a syllable-like 4 Hz amplitude-modulated 220 Hz tone ("tone") or espeak-ng
    speech fitted to `seconds` ("speech"), as H.264 + AAC MP4.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

COUNTER_BITS = 12
_VFR_PATTERN_MS = (20, 50, 33, 67, 17, 13)  # frame durations cycled for vfr=True (mean 33.3 ms)
_VIDEO_TB = Fraction(1, 90000)


def frame_times(seconds: float, fps: float, vfr: bool = False) -> list[float]:
    """Presentation times of make_video's frames, in seconds (i / fps, or whole milliseconds when vfr)."""
    if not vfr:
        return [i / fps for i in range(int(round(seconds * fps)))]
    times, t, i = [], 0, 0
    while t < seconds * 1000 - 1e-9:
        times.append(t / 1000)
        t += _VFR_PATTERN_MS[i % len(_VFR_PATTERN_MS)] * 30 / fps
        t = round(t)
        i += 1
    return times


def counter_frame(index: int, size: tuple[int, int], pattern: str = "counter") -> np.ndarray:
    """The upright RGB picture make_video draws for frame `index` (size = (W, H))."""
    w, h = size
    img = np.full((h, w, 3), 64, dtype=np.uint8)
    if pattern == "noise":
        rng = np.random.default_rng(index)
        img = (96 + rng.integers(0, 64, (h, w, 1), dtype=np.uint8) + _gradient(w, h, index)).astype(np.uint8)
        img = np.repeat(img, 3, axis=2)
    elif pattern != "counter":
        raise ValueError(f"unknown pattern {pattern!r}")
    cell = w // COUNTER_BITS
    for b in range(COUNTER_BITS):
        bit = (index >> (COUNTER_BITS - 1 - b)) & 1
        img[: h // 3, b * cell : (b + 1) * cell] = 255 if bit else 0
    img[2 * h // 3 :, : w // 4] = (255, 0, 0)
    x = (index * 4) % max(1, w - 4)
    img[h // 3 : 2 * h // 3, x : x + 4] = 255
    return img


def _gradient(w: int, h: int, index: int) -> np.ndarray:
    xs = np.linspace(0, 4 * math.pi, w)[None, :] + index * 0.2
    ys = np.linspace(0, 2 * math.pi, h)[:, None]
    return ((np.sin(xs) * np.cos(ys) + 1) * 40).astype(np.uint8)[..., None]


def read_counter(frame: np.ndarray) -> int:
    """Decode the index drawn by counter_frame() (centre of each cell, threshold at mid-gray)."""
    h, w = frame.shape[:2]
    cell = w // COUNTER_BITS
    gray = frame.astype(np.float32).mean(axis=2)
    value = 0
    for b in range(COUNTER_BITS):
        x0, x1 = b * cell + cell // 4, (b + 1) * cell - cell // 4
        patch = gray[h // 12 : h // 4, x0:x1]
        value = (value << 1) | int(patch.mean() > 128)
    return value


def _tone(seconds: float, sr: int, hz: float, amplitude: float = 0.5, onset: float = 0.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    y = (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    y[t < onset] = 0.0
    return y


def _write_av(
    path: Path,
    frames: Iterable[np.ndarray],
    times: list[float],
    fps: float,
    audio: tuple[np.ndarray, int] | None,
    rotation: int = 0,
    vfr: bool = False,
) -> Path:
    """Encode stored frames at `times` (+ mono audio) as H.264/AAC, interleaved, with an optional display matrix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    webm = path.suffix.lower() == ".webm"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libvpx-vp9" if webm else "libx264", rate=Fraction(str(fps)).limit_denominator(1001))
        tb = _VIDEO_TB if vfr else 1 / vs.codec_context.framerate  # CFR: one tick per frame, as AVI needs
        vs.codec_context.time_base = tb
        vs.pix_fmt = "yuv420p"
        if webm:
            vs.options = {"crf": "20", "b": "0", "deadline": "realtime", "cpu-used": "8"}
        else:
            vs.options = {"crf": "18", "preset": "veryfast"}
        if rotation:
            vs.set_display_rotation(-rotation)  # PyAV takes counter-clockwise degrees
        aus = None
        if audio is not None:
            samples, sr = audio
            aus = out.add_stream("libopus" if webm else "aac", rate=sr)
            aus.codec_context.layout = "mono"
        a_pos = 0
        for i, (img, t) in enumerate(zip(frames, times)):
            if i == 0:
                vs.height, vs.width = img.shape[:2]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = int(round(t / tb))
            frame.time_base = tb
            next_t = times[i + 1] if i + 1 < len(times) else times[-1] + 1.0 / fps
            frame.duration = int(round((next_t - t) / tb))
            out.mux(vs.encode(frame))
            if aus is not None:
                a_end = samples.size if i + 1 == len(times) else min(samples.size, int(next_t * sr))
                a_pos = _encode_audio(out, aus, samples, sr, a_pos, a_end)
        out.mux(vs.encode(None))
        if aus is not None:
            _encode_audio(out, aus, samples, sr, a_pos, samples.size)
            out.mux(aus.encode(None))
    return path


def _encode_audio(out, stream, samples: np.ndarray, sr: int, pos: int, end: int) -> int:
    while pos < end:
        block = samples[pos : min(end, pos + 1024)]
        frame = av.AudioFrame.from_ndarray(block[None, :].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = sr, pos, Fraction(1, sr)
        out.mux(stream.encode(frame))
        pos += block.size
    return pos


def make_video(
    path,
    seconds: float = 3.0,
    fps: float = 30,
    size: tuple[int, int] = (160, 120),
    tone_hz: float | None = 440.0,
    rotation: int = 0,
    vfr: bool = False,
    pattern: str = "counter",
) -> Path:
    """See the module docstring."""
    if rotation % 90:
        raise ValueError("rotation must be a multiple of 90")
    times = frame_times(seconds, fps, vfr)
    quarter_turns = (rotation // 90) % 4
    frames = (np.rot90(counter_frame(i, size, pattern), k=quarter_turns) for i in range(len(times)))
    rate = 48000 if Path(path).suffix.lower() == ".webm" else 44100
    audio = (_tone(seconds, rate, tone_hz), rate) if tone_hz else None
    return _write_av(Path(path), frames, times, fps, audio, rotation=quarter_turns * 90, vfr=vfr)


_AUDIO_CODECS = {".mp3": "libmp3lame", ".m4a": "aac", ".ogg": "libopus", ".opus": "libopus", ".flac": "flac"}


def make_tone(path, seconds: float, sr: int = 16000, hz: float = 440.0, amplitude: float = 0.5,
              onset: float = 0.0) -> Path:
    """See the module docstring."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".wav":
        import soundfile as sf

        sf.write(str(path), _tone(seconds, sr, hz, amplitude, onset), sr, subtype="PCM_16")
        return path
    codec = av.codec.Codec(_AUDIO_CODECS[suffix], "w")
    rate = sr if sr in (codec.audio_rates or [sr]) else 48000
    samples = _tone(seconds, rate, hz, amplitude, onset)
    fmt = next(f for f in ("fltp", "flt", "s16p", "s16") if f in {x.name for x in codec.audio_formats})
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec.name, rate=rate)
        stream.codec_context.layout = "mono"
        stream.codec_context.format = fmt
        size = stream.codec_context.frame_size or 1024
        for pos in range(0, samples.size, size):
            block = samples[pos : pos + size][None, :]
            if fmt.startswith("s16"):
                block = (np.clip(block, -1, 1) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(block, format=fmt, layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, pos, Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def speech_wav(path, text: str = "Hello there. This is Mouthpiece, making a talking video from one photo.") -> Path:
    """See the module docstring."""
    import pytest

    exe = shutil.which("espeak-ng")
    if exe is None:  # CI installs it (.ci/run): missing there is a failure, not a skip
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "espeak-ng is not installed (apt-get install -y espeak-ng)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([exe, "-v", "en", "-w", str(path), text], check=True, capture_output=True)
    return path


def portrait_path() -> Path:
    """See the module docstring."""
    import skimage

    return Path(skimage.__file__).parent / "data" / "astronaut.png"


def talking_clip(path, seconds: float = 2.0, fps: float = 25, size: tuple[int, int] = (256, 256),
                 audio: str = "tone") -> Path:
    """See the module docstring."""
    from PIL import Image

    path = Path(path)
    src = Image.open(portrait_path()).convert("RGB")
    sw, sh = src.size
    n = int(round(seconds * fps))

    def frames():
        for i in range(n):
            phase = 2 * math.pi * i / (2 * fps)  # one slow sway every 2 s
            zoom = 1.0 - 0.04 * (1 - math.cos(phase)) / 2
            cw, ch = sw * zoom, sh * zoom
            x0 = (sw - cw) / 2 + 6 * math.sin(phase)
            y0 = (sh - ch) / 2 + 3 * math.sin(2 * phase)
            box = (max(0.0, x0), max(0.0, y0), min(sw, x0 + cw), min(sh, y0 + ch))
            yield np.asarray(src.resize(size, Image.BILINEAR, box=box))

    sr = 16000
    if audio == "speech":
        import soundfile as sf

        y, wav_sr = sf.read(str(speech_wav(path.with_suffix(".speech.wav"))), dtype="float32")
        sr = wav_sr
        want = int(round(seconds * sr))
        samples = np.zeros(want, dtype=np.float32)
        samples[: min(want, y.size)] = y[:want]
    elif audio == "tone":
        t = np.arange(int(round(seconds * sr))) / sr
        envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * t))
        samples = (0.4 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    else:
        raise ValueError(f"audio must be 'tone' or 'speech', got {audio!r}")
    return _write_av(path, frames(), frame_times(seconds, fps), fps, (samples, sr))


def xcorr_peak(a: np.ndarray, b: np.ndarray, max_lag: int = 4096) -> float:
    """Peak normalised cross-correlation of two signals over lags up to max_lag (AAC adds an encoder delay)."""
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    size = 1 << int(np.ceil(np.log2(2 * n)))
    c = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    c = np.concatenate([c[-max_lag:], c[:max_lag + 1]])
    return float(np.max(np.abs(c)) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
