"""One audio-preparation step for every engine: decode (audio or a video's track), trim, separate vocals, normalise,
silence map, and the track the output video carries.

Engines call ``prepare_audio(options, ctx)`` and get a ``PreparedAudio``: ``driving_wav`` (16 kHz mono float, what
their audio encoders eat) and ``output_audio`` (full quality, to hand to ``core.media.VideoWriter(audio=...)``).
Results live under ``cache_dir()/audio/`` keyed by the file's content hash and the options, so preview and generate
never decode or separate twice.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from core import paths, weights
from core.audio import dsp, silence, vad
from core.audio import weights as manifest
from core.audio.decode import Decoded, decode_audio
from core.audio.options import KEEP_CHOICES, AudioOptions
from core.errors import BadInputError
from core.weights import content_hash

DRIVING_RATE = 16000
FPS = silence.FPS
SILENT_PEAK_DBFS = -60.0
OUTPUT_RATES = (44100, 48000)
NOT_IN_KEY = ("audio", "device", "rest", "rest_min_pause")  # options that do not change the prepared files
ProgressFn = Callable[[float, str], None]


@dataclass
class PreparedAudio:
    driving_wav: Path                  # 16 kHz mono float32: feed this to audio encoders
    output_audio: Path                 # the track to mux (44.1/48 kHz, stereo when the source is)
    silence: np.ndarray                # bool per 25 fps frame, True = no sound (energy map: the silent-audio refusal)
    duration: float                    # seconds of driving audio (the output video's length)
    vocals_wav: Path | None = None     # separated stems at 44.1 kHz, when separation ran
    accompaniment_wav: Path | None = None
    cache_hit: bool = False            # the whole preparation came from the cache
    separation_cache_hit: bool = False
    warnings: list[str] = field(default_factory=list)
    fps: float = FPS
    sample_rate: int = DRIVING_RATE
    speech_prob: np.ndarray | None = None  # silero-vad speech probability per 25 fps frame (see core.audio.vad)

    def speech_map(self, min_pause: float = vad.MIN_PAUSE_S) -> vad.SpeechMap:
        """The speech/rest decision for this audio (``core.audio.vad``)."""
        return vad.SpeechMap(self.speech_prob, vad.decide(self.speech_prob, self.fps, min_pause), self.fps)

    def driving_samples(self) -> np.ndarray:
        samples, _ = sf.read(self.driving_wav, dtype="float32")
        return samples

    def silent_spans(self) -> list[tuple[float, float]]:
        return silence.silent_spans(self.silence, self.fps)

    def summary(self) -> str:
        speech = float((~self.silence).mean()) if self.silence.size else 0.0
        parts = [f"{self.duration:.2f} s", f"speech in {speech:.0%} of frames"]
        if self.vocals_wav is not None:
            parts.append("vocals separated" + (" (cached)" if self.separation_cache_hit else ""))
        if self.cache_hit:
            parts.append("from cache")
        return ", ".join(parts)


# ---------------------------------------------------------------------------------------------------------------------
# progress / context plumbing: ctx may be a JobContext, a ProgressFn, or None

class _Reporter:
    """Progress mapped into ``span`` of the caller's bar, cancellation, stage timings and warnings, whatever ctx is."""

    def __init__(self, ctx: Any, span: tuple[float, float] = (0.0, 1.0)):
        self.ctx = ctx
        self.span = span
        self.warnings: list[str] = []

    def progress(self, fraction: float, message: str) -> None:
        if self.ctx is None:
            return
        lo, hi = self.span
        (self.ctx.progress if hasattr(self.ctx, "progress") else self.ctx)(lo + (hi - lo) * fraction, message)

    def check_cancelled(self) -> None:
        if hasattr(self.ctx, "check_cancelled"):
            self.ctx.check_cancelled()

    def stage(self, name: str):
        return self.ctx.stage(name) if hasattr(self.ctx, "stage") else contextlib.nullcontext()

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
        if hasattr(self.ctx, "warn"):
            self.ctx.warn(message)


# ---------------------------------------------------------------------------------------------------------------------
# content hashing and the on-disk cache




def _key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def audio_cache_root() -> Path:
    return paths.cache_dir() / "audio"


@contextlib.contextmanager
def _publishing(final: Path):
    """Yield a temp folder beside ``final``; on success it becomes ``final`` (or is dropped if another run won)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        yield tmp
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    sf.write(path, np.asarray(samples, np.float32), rate, subtype="FLOAT")


# ---------------------------------------------------------------------------------------------------------------------
# vocal separation (cached by content hash)

def _separator_model(root: str | os.PathLike | None = None) -> Path:
    return weights.require("audio", root) / manifest.KIM_VOCAL_2


def separate_decoded(decoded: Decoded, source_key: str, start: float | None, end: float | None,
                     device: str = "auto", reporter: _Reporter | None = None,
                     root: str | os.PathLike | None = None) -> tuple[Path, Path, bool]:
    """(vocals.wav, accompaniment.wav, cache hit) for this range of this file, separating only on a cache miss."""
    from core.audio.separation import SEPARATION_RATE, get_separator, uvr_model_hash

    reporter = reporter or _Reporter(None)
    model = _separator_model(root)
    key = _key(kind="separation", source=source_key, start=start, end=end, model=uvr_model_hash(model),
               size=model.stat().st_size)
    final = audio_cache_root() / "separated" / key
    if (final / "meta.json").is_file():
        return final / "vocals.wav", final / "accompaniment.wav", True
    mix = dsp.resample(decoded.samples, decoded.rate, SEPARATION_RATE)
    if mix.shape[1] == 1:
        mix = np.repeat(mix, 2, axis=1)
    reporter.progress(0.1, "loading the vocal separator")
    separator = get_separator(model, device)
    if separator.model_hash != manifest.UVR_HASH and not weights.is_test_checkpoints(root):
        reporter.warn(f"{model.name} is not the official Kim_Vocal_2 file (UVR hash {separator.model_hash}); "
                      "separation uses Kim_Vocal_2's STFT settings and may be poor")

    def on_chunk(done: int, total: int) -> None:
        reporter.check_cancelled()
        reporter.progress(0.1 + 0.75 * done / total, f"separating vocals: window {done}/{total}")

    with reporter.stage("separate_vocals"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        stems = separator.separate(mix, on_chunk)
    with _publishing(final) as tmp:
        _write_wav(tmp / "vocals.wav", stems.vocals, SEPARATION_RATE)
        _write_wav(tmp / "accompaniment.wav", stems.accompaniment, SEPARATION_RATE)
        (tmp / "meta.json").write_text(json.dumps({"source": source_key, "start": start, "end": end,
                                                   "model": str(model), "providers": separator.providers}))
    return final / "vocals.wav", final / "accompaniment.wav", False


# ---------------------------------------------------------------------------------------------------------------------
# the whole preparation

def _output_rate(rate: int) -> int:
    return rate if rate in OUTPUT_RATES else 48000


def _fit_length(samples: np.ndarray, n: int) -> np.ndarray:
    if samples.shape[0] >= n:
        return samples[:n]
    return np.concatenate([samples, np.zeros((n - samples.shape[0], samples.shape[1]), np.float32)])


def _check_not_silent(samples: np.ndarray, what: str) -> None:
    if dsp.peak_dbfs(samples) < SILENT_PEAK_DBFS:
        raise BadInputError(f"{what} is silent (peak below {SILENT_PEAK_DBFS:.0f} dBFS); choose audio with speech "
                            "in it")


def _speech_map(driving: np.ndarray, rate: int, name: str) -> np.ndarray:
    """The silence map (True = silent, per 25 fps frame); all-silent driving audio is refused the same way in every
    path (preview, prepare, generate): the face would not move, so no job should start on it."""
    mask = silence.silence_map(driving, rate, FPS)
    if mask.all():
        raise BadInputError(f"no speech-level sound in the driving audio of {name}: every frame is below "
                            f"{silence.FLOOR_DBFS:.0f} dBFS, so the mouth would not move")
    return mask


def speech_probabilities(driving: np.ndarray, ctx: Any = None) -> np.ndarray:
    """silero-vad speech probability per 25 fps frame of 16 kHz ``driving`` samples, cached on disk by the samples'
    content (so preview, prepare and generate run the detector once for the same driving audio)."""
    samples = np.ascontiguousarray(driving, dtype=np.float32)
    model = vad.model_path()
    key = _key(kind="speech", samples=hashlib.sha256(samples.tobytes()).hexdigest(), model=model.name,
               size=model.stat().st_size, fps=FPS)
    path = audio_cache_root() / "speech" / f"{key}.npy"
    if path.is_file():
        return np.load(path)
    reporter = _Reporter(ctx)
    with reporter.stage("speech_detection"):
        prob = vad.frame_probabilities(vad.window_probabilities(samples, reporter.check_cancelled), samples.size, FPS)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.npy")
    np.save(tmp, prob)
    os.replace(tmp, path)
    return prob


def _cached_speech(folder: Path, reporter: _Reporter) -> np.ndarray:
    """The prepared audio's speech probabilities (a folder prepared before the speech map existed gets them now)."""
    if (folder / "speech.npy").is_file():
        return np.load(folder / "speech.npy")
    driving, _ = sf.read(folder / "driving.wav", dtype="float32")
    return speech_probabilities(driving, reporter.ctx)


def _load_prepared(folder: Path, reporter: _Reporter) -> PreparedAudio:
    meta = json.loads((folder / "meta.json").read_text())
    vocals = Path(meta["vocals"]) if meta.get("vocals") else None
    accompaniment = Path(meta["accompaniment"]) if meta.get("accompaniment") else None
    for message in meta.get("warnings", []):
        reporter.warn(message)
    return PreparedAudio(
        driving_wav=folder / "driving.wav", output_audio=folder / "output.wav",
        silence=np.load(folder / "silence.npy"), speech_prob=_cached_speech(folder, reporter),
        duration=meta["duration"], vocals_wav=vocals,
        accompaniment_wav=accompaniment, cache_hit=True, separation_cache_hit=vocals is not None,
        warnings=list(reporter.warnings))


def prepare_audio(options: AudioOptions, ctx: Any = None, span: tuple[float, float] = (0.0, 1.0),
                  root: str | os.PathLike | None = None) -> PreparedAudio:
    """Driving signal, output track and silence map for ``options``.

    ``ctx`` is a JobContext (progress, cancellation between separator windows, stage timings, warnings), a ProgressFn,
    or None; ``span`` is the part of the caller's progress bar this step fills, e.g. (0.0, 0.1) inside an engine run;
    ``root`` is the checkpoints folder holding the separator (None = the default folder).
    """
    reporter = _Reporter(ctx, span)
    options.validate()
    name = Path(options.audio).name
    source_key = content_hash(options.audio)
    other_key = content_hash(options.keep_audio) if options.keep_audio not in KEEP_CHOICES else None
    model_key = None
    if options.needs_separation:
        from core.audio.separation import uvr_model_hash

        model_key = uvr_model_hash(_separator_model(root))
    key = _key(kind="prepared", source=source_key, other=other_key, model=model_key, rate=DRIVING_RATE,
               **{k: v for k, v in dataclasses.asdict(options).items() if k not in NOT_IN_KEY})
    final = audio_cache_root() / "prepared" / key
    if (final / "meta.json").is_file():
        reporter.progress(1.0, "audio ready (cached)")
        return _load_prepared(final, reporter)

    reporter.progress(0.0, f"decoding audio from {name}")
    with reporter.stage("decode_audio"):
        decoded = decode_audio(options.audio, options.start, options.end)
    _check_not_silent(decoded.samples, f"the audio of {name}")

    vocals_wav = accompaniment_wav = None
    separation_hit = False
    if options.needs_separation:
        vocals_wav, accompaniment_wav, separation_hit = separate_decoded(
            decoded, source_key, options.start, options.end, options.device, reporter, root)
    reporter.progress(0.88, "building the driving signal")

    if options.separate_vocals:
        vocals, vocals_rate = sf.read(vocals_wav, dtype="float32", always_2d=True)
        _check_not_silent(vocals, f"the separated vocals of {name} (no voice found; turn off vocal separation)")
        driving = dsp.resample(dsp.to_mono(vocals), vocals_rate, DRIVING_RATE)
    else:
        driving = dsp.resample(dsp.to_mono(decoded.samples), decoded.rate, DRIVING_RATE)
    if options.normalize == "peak":
        driving = dsp.peak_normalize(driving, options.peak_dbfs)
    elif options.normalize == "loudness":
        driving, _ = dsp.loudness_normalize(driving, DRIVING_RATE, options.loudness_lufs)
        achieved = dsp.integrated_loudness(driving, DRIVING_RATE)
        if achieved < options.loudness_lufs - 0.5:
            reporter.warn(f"loudness reached {achieved:.1f} LUFS, not {options.loudness_lufs:.1f}: "
                          "the -1 dBFS peak ceiling limited the gain")
    mask = _speech_map(driving, DRIVING_RATE, name)
    speech_prob = speech_probabilities(driving, reporter.ctx)
    duration = driving.shape[0] / DRIVING_RATE

    reporter.progress(0.93, "building the output track")
    if options.keep_audio == "mix":
        rate = _output_rate(decoded.rate)
        track = dsp.resample(decoded.samples, decoded.rate, rate)
    elif options.keep_audio == "vocals":
        track, rate = sf.read(vocals_wav, dtype="float32", always_2d=True)
        if decoded.channels == 1:
            track = track.mean(axis=1, keepdims=True)
    else:
        other = decode_audio(options.keep_audio)
        rate = _output_rate(other.rate)
        track = dsp.resample(other.samples, other.rate, rate)
        if other.duration + 1 / FPS < duration:
            reporter.warn(f"{Path(options.keep_audio).name} is shorter than the driving audio; the rest is silent")
    track = _fit_length(track if track.ndim == 2 else track[:, None], int(round(duration * rate)))

    with _publishing(final) as tmp:
        _write_wav(tmp / "driving.wav", driving, DRIVING_RATE)
        _write_wav(tmp / "output.wav", track, rate)
        np.save(tmp / "silence.npy", mask)
        np.save(tmp / "speech.npy", speech_prob)
        (tmp / "meta.json").write_text(json.dumps({
            "duration": duration, "source": options.audio, "options": dataclasses.asdict(options),
            "vocals": str(vocals_wav) if vocals_wav else None,
            "accompaniment": str(accompaniment_wav) if accompaniment_wav else None,
            "warnings": reporter.warnings}, indent=2))
    reporter.progress(1.0, "audio ready")
    return PreparedAudio(
        driving_wav=final / "driving.wav", output_audio=final / "output.wav", silence=mask, speech_prob=speech_prob,
        duration=duration,
        vocals_wav=vocals_wav, accompaniment_wav=accompaniment_wav, cache_hit=False,
        separation_cache_hit=separation_hit, warnings=list(reporter.warnings))


def separate_file(audio: str | os.PathLike, out_dir: str | os.PathLike, start: float | None = None,
                  end: float | None = None, device: str = "auto", ctx: Any = None,
                  root: str | os.PathLike | None = None) -> tuple[Path, Path, bool]:
    """Write ``out_dir/vocals.wav`` and ``out_dir/accompaniment.wav`` (44.1 kHz); returns them and the cache-hit flag.
    ``root`` is the checkpoints folder (None = the default)."""
    from core.request import check_out_dir

    reporter = _Reporter(ctx)
    AudioOptions(audio=str(audio), start=start, end=end).validate()
    out = check_out_dir(out_dir)
    _separator_model(root)  # fail on missing weights before any decoding
    reporter.progress(0.0, f"decoding audio from {Path(audio).name}")
    decoded = decode_audio(audio, start, end)
    _check_not_silent(decoded.samples, f"the audio of {Path(audio).name}")
    vocals, accompaniment, hit = separate_decoded(decoded, content_hash(audio), start, end, device, reporter, root)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for src in (vocals, accompaniment):
        dst = out / src.name
        part = out / f".{src.name}.{uuid.uuid4().hex[:6]}.part"
        try:
            shutil.copyfile(src, part)
            os.replace(part, dst)
        finally:
            part.unlink(missing_ok=True)
        results.append(dst)
    reporter.progress(1.0, "separation done" + (" (cached)" if hit else ""))
    return results[0], results[1], hit


OUTPUT_TRACK_MAX_RATE = 48000


def driving_audio(options: AudioOptions, ctx: Any = None, sr: int = DRIVING_RATE, root: str | os.PathLike | None = None,
                  span: tuple[float, float] = (0.0, 0.05)) -> tuple[np.ndarray, str | tuple[np.ndarray, int]]:
    """(driving samples, output track) for an engine: mono float32 at ``sr``, and what ``VideoWriter`` muxes.

    Separation, another output track or normalisation go through ``prepare_audio`` (cached); otherwise the file's
    range is read directly. The track is the file itself when untrimmed (it keeps its channels), else the trimmed
    samples at the file's rate (at most 48 kHz). Audio shorter than one 25 fps frame, or silent throughout, is refused.
    """
    from core.media import load_audio, probe

    options.validate()
    name = Path(options.audio).name
    if options.needs_preparation:
        prepared = prepare_audio(options, ctx, span, root)
        driving = load_audio(prepared.driving_wav, sr=sr)
        track: str | tuple[np.ndarray, int] = str(prepared.output_audio)
    else:
        driving = load_audio(options.audio, sr=sr, start=options.start, end=options.end)
        if options.start is None and options.end is None:
            track = options.audio
        else:
            rate = min(probe(options.audio).audio_rate or OUTPUT_TRACK_MAX_RATE, OUTPUT_TRACK_MAX_RATE)
            track = (load_audio(options.audio, sr=rate, start=options.start, end=options.end), rate)
    if len(driving) < sr / FPS:
        raise BadInputError(f"the driving audio {name} is shorter than one video frame (40 ms): nothing to animate")
    driving16k = dsp.resample(driving, sr, DRIVING_RATE) if sr != DRIVING_RATE else driving
    _speech_map(driving16k, DRIVING_RATE, name)
    if options.rest != "off":
        from core.audio.rest import speech_map_for

        speech_map_for(options, driving16k, DRIVING_RATE, ctx)  # no speech at all: refused here, before any work
    return driving, track
