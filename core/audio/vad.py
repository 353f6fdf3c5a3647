"""The speech map: where the driving audio holds speech, per 25 fps video frame, from the silero-vad model.

Model: silero-vad 6.2.3 ships its ONNX files inside the wheel; we run ``silero_vad_16k_sequence.onnx`` (the torch-free
"sequence" export: one ONNX Runtime call per block of up to 512 windows of 32 ms, bit-exact with the streaming model)
through the ONNX Runtime the product already has. The file is found with ``importlib.util.find_spec`` without
importing the ``silero_vad`` package (its ``__init__`` imports torch and its audio helpers); no hub download.

Decision per video frame (deviations from silero's own ``get_speech_timestamps``, which works on 32 ms windows):

- probability: the largest window probability overlapping the frame's 40 ms;
- hysteresis: speech starts at p >= ``ON`` (0.5, silero's default threshold) and continues while p >= ``OFF``
  (0.35, silero's ``neg_threshold`` default of threshold - 0.15);
- model lag: silero's probability stays above ``OFF`` for about three windows (~100 ms) after a word ends (measured
  on the espeak-ng test sentences, where its onsets follow within one window), so each speech run's end is moved
  back by ``LAG_FRAMES`` (3 frames, 120 ms; the boundary error on the test sentences is then under 2 frames);
- minimum pause: a non-speech run shorter than ``min_pause`` seconds (default 0.25 s, rounded to whole frames)
  counts as speech, so stops between words and plosive closures do not close the mouth, and speech that fills the
  clip has no rest frame at its very edges (where the model needs a window to react);
- hangover: the last ``HANGOVER_FRAMES`` (1 frame, 40 ms) after each speech run stay speech, so a word's decay
  is not cut.

``rest`` is ``~speech``. Probabilities are what the cache keeps (``core.audio.prepare``): the decision is cheap and
depends on the creator's minimum pause.
"""
from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audio.silence import _runs

RATE = 16000
WINDOW = 512               # samples per silero window (32 ms at 16 kHz)
CONTEXT = 64               # samples of the previous window prepended to each (as the streaming model does)
BLOCK = 512                # windows per ONNX call (16.4 s): memory stays flat in the audio length
ON, OFF = 0.5, 0.35
LAG_FRAMES = 3
HANGOVER_FRAMES = 1
MIN_PAUSE_S = 0.25
MODEL_FILE = "silero_vad_16k_sequence.onnx"


def model_path() -> Path:
    """The ONNX file inside the installed silero-vad wheel."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad is not installed: pip install -r requirements.txt")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_FILE
    if not path.is_file():
        raise RuntimeError(f"silero-vad is installed without its model file {path}")
    return path


@functools.lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(model_path()), sess_options=options, providers=["CPUExecutionProvider"])


def window_probabilities(samples: np.ndarray, check_cancelled: Callable[[], None] | None = None) -> np.ndarray:
    """Speech probability of each 32 ms window of 16 kHz mono ``samples`` (the last window zero-padded)."""
    samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    count = -(-samples.size // WINDOW)
    session = _session()
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    previous = np.zeros(CONTEXT, np.float32)
    out = []
    for first in range(0, count, BLOCK):
        n = min(BLOCK, count - first)
        frames = np.zeros((n, WINDOW), np.float32)
        piece = samples[first * WINDOW:(first + n) * WINDOW]
        frames.reshape(-1)[:piece.size] = piece
        contexts = np.empty((n, CONTEXT), np.float32)
        contexts[0] = previous
        contexts[1:] = frames[:-1, -CONTEXT:]
        previous = frames[-1, -CONTEXT:].copy()
        probs, h, c = session.run(["speech_probs", "hn", "cn"],
                                  {"input": np.concatenate([contexts, frames], axis=1), "h": h, "c": c})
        out.append(np.asarray(probs, np.float32).reshape(-1))
        if check_cancelled is not None:
            check_cancelled()
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def frame_probabilities(windows: np.ndarray, n_samples: int, fps: float = 25.0) -> np.ndarray:
    """Per video frame (``ceil(n_samples * fps / RATE)`` of them): the largest probability of the windows that
    overlap the frame's span."""
    n_frames = int(np.ceil(n_samples * fps / RATE - 1e-9))
    if n_frames == 0 or windows.size == 0:
        return np.zeros(n_frames, np.float32)
    starts = np.floor(np.arange(n_frames) * RATE / fps / WINDOW).astype(np.int64)
    ends = np.ceil((np.arange(n_frames) + 1) * RATE / fps / WINDOW).astype(np.int64)
    starts = np.minimum(starts, windows.size - 1)
    ends = np.clip(ends, starts + 1, windows.size)
    return np.array([windows[a:b].max() for a, b in zip(starts, ends)], np.float32)


def decide(prob: np.ndarray, fps: float = 25.0, min_pause: float = MIN_PAUSE_S) -> np.ndarray:
    """Speech (True) per frame from frame probabilities: hysteresis, minimum pause, hangover (module docstring)."""
    speech = np.zeros(prob.size, dtype=bool)
    active = False
    for i, p in enumerate(prob):
        active = p >= OFF if active else p >= ON
        speech[i] = active
    for begin, end in _runs(speech):
        if end < speech.size:
            speech[max(begin + 1, end - LAG_FRAMES):end] = False
    min_frames = round(min_pause * fps)
    if speech.any():
        for begin, end in _runs(~speech):
            if end - begin < min_frames:
                speech[begin:end] = True
    for begin, end in _runs(speech):
        speech[end:end + HANGOVER_FRAMES] = True
    return speech


@dataclass
class SpeechMap:
    """Per video frame: speech probability and the speech decision (True = speech); ``rest`` is its complement."""

    prob: np.ndarray
    speech: np.ndarray
    fps: float = 25.0

    @property
    def rest(self) -> np.ndarray:
        return ~self.speech

    def rest_spans(self) -> list[tuple[float, float]]:
        """(start, end) seconds of each rest run."""
        return [(a / self.fps, b / self.fps) for a, b in _runs(self.rest)]

    def frames(self, n: int) -> SpeechMap:
        """The map cut or padded (with rest) to ``n`` frames: an engine's own frame count."""
        prob = np.zeros(n, np.float32)
        speech = np.zeros(n, dtype=bool)
        k = min(n, self.prob.size)
        prob[:k], speech[:k] = self.prob[:k], self.speech[:k]
        return SpeechMap(prob, speech, self.fps)


def speech_map(samples: np.ndarray, fps: float = 25.0, min_pause: float = MIN_PAUSE_S,
               check_cancelled: Callable[[], None] | None = None) -> SpeechMap:
    """The speech map of 16 kHz mono ``samples`` (uncached; ``core.audio.prepare.speech_map_for`` caches)."""
    prob = frame_probabilities(window_probabilities(samples, check_cancelled), len(samples), fps)
    return SpeechMap(prob, decide(prob, fps, min_pause), fps)
