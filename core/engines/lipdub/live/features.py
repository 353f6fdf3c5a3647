"""MuseTalk's whisper features for audio that arrives over time: a rolling buffer and a short look-ahead.

Offline (``core.engines.lipdub.audio.WhisperFeatures``) each 30 s segment of the whole file goes through the whisper
encoder at once, and frame ``k`` reads the 10 rows ``[2k - 4, 2k + 6)`` (50 rows/s, 25 fps). Live, the audio of the
current 30 s segment (the same segment grid as offline) is kept in a rolling buffer; frame ``k`` is *ready* once the
buffer holds ``k / 25 + lookahead`` seconds, and the buffer is then encoded (padded to 30 s with zeros, as the
extractor does offline) to read its rows. A finished segment's rows are kept for windows that straddle the boundary,
and its samples are dropped, so memory stays at one segment whatever the session's length.

How far the streamed features differ from the offline ones on the same audio, and why: each row depends on the audio
around it through the mel spectrogram and the encoder's convolutional front end (~12.5 ms either side), which the
default look-ahead (160 ms: the 120 ms the window reaches past the frame's start, plus that margin) covers; but two
things see the whole 30 s segment, and live they see zeros where the future audio will be: whisper's log-mel floor
(the segment's loudest value - 8, in log10 units) and the encoder's self-attention. So a row differs by what it draws
from audio not yet received: nothing for frames whose segment had fully arrived (the end of the audio, or a
finished 30 s segment), most for the first seconds of a segment. Measured on 4.5 s of espeak speech pushed in 40 ms
pieces (tiny random weights): relative L2 distance per frame 0.0019 on average, 0.010 at most;
``tests/core/test_live_session.py`` bounds it (< 0.05 on average, < 0.2 at most, the last frames exact) and bounds
its effect on the picture against the offline lip-dub. A longer look-ahead reduces it only as far as it brings more
of the future in. Cost: the current segment is re-encoded once per push that makes frames (whisper-tiny over 1500
positions, padded as offline), so pushes of 40 ms cost one encode per frame; larger pushes share it.
"""
from __future__ import annotations

import numpy as np
import torch

from core.engines.lipdub.audio import (
    DIM,
    SEGMENT_ROWS,
    SEGMENT_S,
    SR,
    STATES,
    WINDOW,
    encoder_states,
    row_count,
    window_rows,
)

LOOKAHEAD_S = 0.16  # frame k waits for audio up to k/25 + 0.16 s: its window's 120 ms plus the mel/conv margin


class StreamingWhisper:
    """Per-frame audio prompts [B, 50, 384] for frames whose look-ahead has arrived (``ready()``)."""

    def __init__(self, encoder, extractor, device, dtype, fps: int = 25, lookahead_s: float = LOOKAHEAD_S):
        self.encoder, self.extractor = encoder, extractor
        self.device, self.dtype, self.fps = device, dtype, int(fps)
        self.lookahead = float(lookahead_s)
        self._buffer = np.zeros(0, dtype=np.float32)  # samples of the current segment
        self._segment = 0  # index of the current 30 s segment
        self._previous: torch.Tensor | None = None  # the last finished segment's rows [1500, 5, 384]
        self._states: torch.Tensor | None = None  # the current segment's rows as of the last encode
        self.total = 0  # samples pushed since the start
        self.ended = False

    def push(self, samples: np.ndarray) -> None:
        """Append 16 kHz mono float32 samples; a segment that fills up is encoded whole and kept for its rows."""
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, dtype=np.float32).reshape(-1)])
        self.total += len(samples)
        self._states = None
        while len(self._buffer) >= SEGMENT_S * SR:
            self._previous = self._encode(self._buffer[: SEGMENT_S * SR])
            self._buffer = self._buffer[SEGMENT_S * SR:]
            self._segment += 1

    def end(self) -> None:
        """No more audio: every frame up to the end is ready (rows past the end read as zeros, as offline)."""
        self.ended = True

    def ready(self) -> int:
        """How many frames (from frame 0) have their look-ahead: all of them once the audio has ended."""
        seconds = self.total / SR
        if self.ended:
            return int(np.floor(seconds * self.fps + 0.5))  # core.media.frames_needed: the offline frame count
        return max(0, int(np.floor((seconds - self.lookahead) * self.fps)) + 1) if seconds >= self.lookahead else 0

    @torch.inference_mode()
    def _encode(self, samples: np.ndarray) -> torch.Tensor:
        mel = self.extractor(samples, sampling_rate=SR, return_tensors="pt").input_features
        return encoder_states(self.encoder, mel.to(self.device, self.dtype))[0]

    def _rows(self, a: int, b: int) -> torch.Tensor:
        """Rows [a, b) of the whole stream as [b - a, 5, 384]: zeros before 0 and past the audio received."""
        out = torch.zeros(b - a, STATES, DIM, device=self.device, dtype=self.dtype)
        base = self._segment * SEGMENT_ROWS
        lo, hi = max(a, 0), min(b, row_count(self.total))
        if lo < min(hi, base):  # rows of the finished segment before this one
            if self._previous is None or lo < base - SEGMENT_ROWS:
                raise ValueError(f"rows {lo}..{base} are older than the rolling buffer keeps")
            out[lo - a:min(hi, base) - a] = self._previous[lo - base + SEGMENT_ROWS:min(hi, base) - base + SEGMENT_ROWS]
        if max(lo, base) < hi:
            if self._states is None:
                self._states = self._encode(self._buffer)
            out[max(lo, base) - a:hi - a] = self._states[max(lo, base) - base:hi - base]
        return out

    def __call__(self, frames) -> torch.Tensor:
        """Prompts for frame indices ``frames`` (each must be ready and no older than the previous segment)."""
        windows = [self._rows(w.start, w.stop) for w in (window_rows(k, self.fps) for k in frames)]
        return torch.stack(windows).reshape(len(windows), WINDOW * STATES, DIM)
