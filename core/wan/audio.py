"""Audio for StableAvatar: wav2vec2-base-960h features per window and their token ranges per latent frame.

Timeline (25 fps, 16 kHz, 640 samples per video frame): a window of ``n`` latents starting at latent ``s`` covers
video frames ``4s .. 4s + 4n - 4`` (its latent 0 is the reference-image slot), so its audio is samples
``[4s·640, (4s + 4n - 3)·640)``, zero-padded past the end of the audio. This is the reference's pre-PR #37
choice (81 frames for a full window, as in training); HEAD's 84 frames drift against the 81-frame split.
A short last window gets its own ``4n - 3`` frames and its tokens are split over its own ``n`` latents (the
reference spreads it over 21). Features are ``Wav2Vec2Model.last_hidden_state`` of the window's samples after
zero-mean/unit-variance normalisation (``Wav2Vec2FeatureExtractor``'s ``do_normalize``, eps 1e-7).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from core.weights import load_state_dict

from . import keymaps

SR = 16000
FPS = 25
FRAME = SR // FPS          # 640 samples per video frame
EXPAND = 4                 # tokens added on each side of every latent frame's range (``expand_length``)


def window_samples(start_latent: int, latents: int) -> tuple[int, int]:
    """[first, last) sample of a window's audio."""
    first = 4 * start_latent * FRAME
    return first, first + (4 * latents - 3) * FRAME


def token_ranges(tokens: int, latents: int) -> list[tuple[int, int]]:
    """[start, end) token range of each latent frame for a window of ``latents`` latents and ``tokens`` wav2vec
    tokens (the reference's ``split_audio_sequence`` + ``split_tensor_with_padding(expand_length=4)`` with
    ``num_frames = 4·latents − 3``, same float operations). Ranges may leave [0, tokens); the projector then
    takes the tokens inside and zero-fills the rest at the end, as the reference does. Every range has
    ``2·int(2·tokens/frames) + 9`` tokens. With one latent, latent 0's range is still placed against where
    latent 1's would start, as the reference does for every window."""
    frames = 4 * latents - 3
    per_frame = tokens / frames
    half = int(per_frame * 4 / 2)
    centres = [0] + [int((per_frame * (4 * i - 3) + per_frame * (4 * i + 1)) / 2) - 1
                     for i in range(1, max(latents, 2))]
    ranges = [(c - half, c + half) for c in centres]
    ranges[0] = (ranges[1][0] - 2 * half, ranges[1][0])
    return [(a - EXPAND, b + EXPAND + 1) for a, b in ranges[:latents]]


def window_audio(samples: np.ndarray, start_latent: int, latents: int) -> np.ndarray:
    """The window's samples (float32), zero-padded where the window runs past the end of the audio."""
    first, last = window_samples(start_latent, latents)
    out = np.zeros(last - first, dtype=np.float32)
    piece = samples[first:last]
    out[:len(piece)] = piece
    return out


class Wav2Vec:
    """transformers ``Wav2Vec2Model`` loaded strictly from the official folder; ``last_hidden_state`` per window."""

    def __init__(self, model, normalize: bool = True):
        self.model = model.eval()
        self.normalize = normalize
        self.device = torch.device("cpu")

    @property
    def module(self) -> torch.nn.Module:
        """The network the model cache places (``core.cache.module_of``); it computes on ``self.device``."""
        return self.model

    def to(self, device: torch.device) -> Wav2Vec:
        self.model.to(device)
        self.device = device
        return self

    @classmethod
    def load(cls, folder: Path) -> Wav2Vec:
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        config = Wav2Vec2Config.from_json_file(str(folder / "config.json"))
        model = Wav2Vec2Model(config)
        keymaps.load_strict(model, keymaps.WAV2VEC2, load_state_dict(folder / "pytorch_model.bin"),
                            f"{folder.name}/pytorch_model.bin", absent=keymaps.WAV2VEC2_ABSENT)
        pre = folder / "preprocessor_config.json"
        normalize = json.loads(pre.read_text()).get("do_normalize", True) if pre.is_file() else True
        return cls(model, normalize)

    @torch.no_grad()
    def __call__(self, samples: np.ndarray) -> torch.Tensor:
        """[1, La, hidden] float32 features of one window's samples."""
        x = torch.from_numpy(np.asarray(samples, dtype=np.float32))[None]
        if self.normalize:
            x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
        return self.model(x.to(self.device)).last_hidden_state.float()
