"""Whisper-tiny audio features for MuseTalk, streamed in 30 s segments.

Reference rule (``AudioProcessor.get_whisper_chunk``): each 30 s segment of 16 kHz audio goes through the whisper
encoder; all 5 hidden states (embeddings, layers 1-3, layer 4 after the final LayerNorm) are kept, giving 50 rows/s.
The sequence is trimmed to ``A = floor(L/16000*50)`` rows, zero-padded by ``2c`` rows on the left (``c =
ceil(50/int(fps))``), and frame ``k`` takes the 10 rows starting at ``floor(k*50/int(fps))``; its [10, 5, 384] block
is flattened to [50, 384] (row = time*5 + layer). ``T = floor(L/16000*int(fps))`` frames. Rows beyond the audio read
as zeros, which equals the reference's extra right padding wherever the reference does not fail.

Only the segments a batch touches are encoded and at most two are held, so memory does not grow with the audio.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SR = 16000
ROWS_PER_S = 50
SEGMENT_S = 30
SEGMENT_ROWS = SEGMENT_S * ROWS_PER_S  # 1500
WINDOW = 10  # 2 * (2 + 2 + 1) rows per frame
STATES = 5
DIM = 384


def frame_count(n_samples: int, fps: float = 25) -> int:
    return math.floor(n_samples / SR * int(fps))


def row_count(n_samples: int) -> int:
    return math.floor(n_samples / SR * ROWS_PER_S)


def left_pad(fps: float = 25) -> int:
    return 2 * math.ceil(ROWS_PER_S / int(fps))


def window_start(k: int, fps: float = 25) -> int:
    """First row of frame k's window in the *padded* sequence."""
    return math.floor(k * (ROWS_PER_S / int(fps)))


def window_rows(k: int, fps: float = 25) -> range:
    """Rows of the *unpadded* whisper sequence frame k reads (negative or past the end = zeros)."""
    start = window_start(k, fps) - left_pad(fps)
    return range(start, start + WINDOW)


def encoder_states(encoder, mel: torch.Tensor) -> torch.Tensor:
    """[B, 1500, 5, 384]: the 5 hidden states ``WhisperEncoder(output_hidden_states=True)`` returns. Every weight is
    read through a module call, so the model cache's offload and layer-streaming hooks see it."""
    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
    h = x + encoder.embed_positions(torch.arange(x.shape[1], device=x.device))
    states = [h]
    for layer in encoder.layers:
        out = layer(h, attention_mask=None)
        h = out[0] if isinstance(out, tuple) else out
        states.append(h)
    states[-1] = encoder.layer_norm(h)
    return torch.stack(states, dim=2)


class WhisperFeatures:
    """Per-frame audio prompts [B, 50, 384] for any set of frame indices, encoding 30 s segments on demand."""

    def __init__(self, samples: np.ndarray, encoder, extractor, device, dtype, fps: float = 25):
        self.samples = np.asarray(samples, dtype=np.float32)
        self.encoder, self.extractor = encoder, extractor
        self.device, self.dtype = device, dtype
        self.fps = fps
        self.rows = row_count(len(self.samples))
        self.frames = frame_count(len(self.samples), fps)
        self._segments: dict[int, torch.Tensor] = {}

    @torch.inference_mode()
    def _segment(self, s: int) -> torch.Tensor:
        if s not in self._segments:
            chunk = self.samples[s * SEGMENT_S * SR:(s + 1) * SEGMENT_S * SR]
            mel = self.extractor(chunk, sampling_rate=SR, return_tensors="pt").input_features
            states = encoder_states(self.encoder, mel.to(self.device, self.dtype))[0]
            while len(self._segments) >= 2:
                self._segments.pop(min(self._segments))
            self._segments[s] = states
        return self._segments[s]

    def rows_between(self, a: int, b: int) -> torch.Tensor:
        """Unpadded rows [a, b) as [b-a, 5, 384]; rows outside [0, A) are zeros."""
        out = torch.zeros(b - a, STATES, DIM, device=self.device, dtype=self.dtype)
        lo, hi = max(a, 0), min(b, self.rows)
        r = lo
        while r < hi:
            s = r // SEGMENT_ROWS
            end = min(hi, (s + 1) * SEGMENT_ROWS)
            out[r - a:end - a] = self._segment(s)[r - s * SEGMENT_ROWS:end - s * SEGMENT_ROWS]
            r = end
        return out

    def __call__(self, frames) -> torch.Tensor:
        """Audio prompts for frame indices ``frames`` (ascending gives the best segment reuse)."""
        windows = [self.rows_between(w.start, w.stop) for w in (window_rows(k, self.fps) for k in frames)]
        return torch.stack(windows).reshape(len(windows), WINDOW * STATES, DIM)


def positional_encoding(length: int = 50, dim: int = DIM, device=None, dtype=torch.float32) -> torch.Tensor:
    """MuseTalk's PositionalEncoding table: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(...)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe.to(device=device, dtype=dtype)
