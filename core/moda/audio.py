"""Audio features for MoDA: chinese-hubert-base with the reference's "presample" alignment to 25 fps.

Reference procedure, reproduced step by step:
1. 16 kHz mono speech -> pre-emphasis (0.97) -> append 2 s of digital silence -> 16-bit PCM round trip
   (the reference writes this to a temporary WAV before encoding, so the encoder sees quantised samples).
2. Cut into independent 60 s pieces. Per piece: zero-mean/unit-variance (when the feature extractor config says
   ``do_normalize``), keep int(len / 640) frames' worth of samples, reflect-pad 20 samples per side twice.
3. HuBERT's CNN gives 2 features per frame; they are linearly interpolated (align_corners) to one per frame
   *before* the feature projection and the transformer; the output is every transformer layer's hidden state,
   (frames, 12, 768).
Pieces are encoded lazily (``AudioFeatures``) so memory does not grow with the audio length.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import BadInputError

SR = 16000
FPS = 25
FRAME = SR // FPS                 # 640 samples per video frame
PIECE = 60 * SR                   # the reference encodes 60 s pieces independently
SILENCE_SECONDS = 2
SILENT_FRAMES = SILENCE_SECONDS * SR // FRAME   # 50 frames appended, generated, then dropped
LIP_REFERENCE = max(SILENT_FRAMES * 3 // 4, 1)  # motion[-37] (inside the silence) anchors lip modulation
PAD = 20                          # reflect padding, applied twice per side


def prepare_waveform(speech: np.ndarray) -> np.ndarray:
    """Pre-emphasised speech + 2 s of silence, quantised to 16-bit PCM exactly as libsndfile writes/reads it."""
    import librosa
    import soundfile as sf

    speech = np.asarray(speech, dtype=np.float32).reshape(-1)
    if speech.size < 2:
        raise BadInputError("the audio is empty: nothing to animate")
    y = np.concatenate([librosa.effects.preemphasis(speech), np.zeros(SILENCE_SECONDS * SR, dtype=np.float32)])
    buf = io.BytesIO()
    sf.write(buf, y, SR, format="WAV", subtype="PCM_16")
    buf.seek(0)
    quantised, _ = sf.read(buf, dtype="float32")
    return quantised


class HubertEncoder:
    """transformers' HubertModel, loaded strictly from the official folder, run the MoDA way."""

    def __init__(self, model, do_normalize: bool):
        self.model = model.eval()
        self.do_normalize = do_normalize
        self.compute_on: torch.device | None = None  # set when the model cache keeps the weights elsewhere

    @property
    def device(self) -> torch.device:
        """Where it computes: ``compute_on`` when set, else where the weights are."""
        return self.compute_on or next(self.model.parameters()).device

    @property
    def module(self):
        """The network the model cache places (``core.cache.module_of``)."""
        return self.model

    @property
    def layers(self) -> int:
        return self.model.config.num_hidden_layers

    @classmethod
    def load(cls, folder: Path, device: torch.device) -> HubertEncoder:
        from transformers import HubertConfig, HubertModel

        from core.weights import load_state_dict, load_strict

        folder = Path(folder)
        config = HubertConfig.from_json_file(str(folder / "config.json"))
        if config.do_stable_layer_norm:
            raise BadInputError(f"{folder.name}: a stable-layer-norm (large) HuBERT; MoDA uses chinese-hubert-base")
        config._attn_implementation = "sdpa"
        model = HubertModel(config)
        sd = _modern_names(load_state_dict(folder / "pytorch_model.bin"))
        load_strict(model, sd, folder / "pytorch_model.bin")
        prep = folder / "preprocessor_config.json"
        do_normalize = json.loads(prep.read_text()).get("do_normalize", True) if prep.is_file() else True
        return cls(model.to(device), bool(do_normalize))

    @torch.no_grad()
    def encode_piece(self, samples: np.ndarray) -> torch.Tensor:
        """One independent piece of 16 kHz samples -> (int(len / 640), layers, hidden) on the CPU, fp32."""
        frames = len(samples) // FRAME
        if frames == 0:
            return torch.zeros(0, self.layers, self.model.config.hidden_size)
        x = np.asarray(samples, dtype=np.float32)
        if self.do_normalize:
            x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        wav = torch.from_numpy(np.ascontiguousarray(x[: frames * FRAME])).to(self.device)[None]
        wav = F.pad(F.pad(wav, (PAD, PAD), mode="reflect"), (PAD, PAD), mode="reflect")
        return self.layer_outputs(self.presampled(wav, frames))[0].float().cpu()

    def presampled(self, wav: torch.Tensor, frames: int) -> torch.Tensor:
        """CNN features (B, 2 * frames, C) linearly resampled (align_corners) to (B, frames, C)."""
        feats = self.model.feature_extractor(wav)
        return F.interpolate(feats, size=frames, mode="linear", align_corners=True).transpose(1, 2)

    def layer_outputs(self, feats: torch.Tensor) -> torch.Tensor:
        """Feature projection + transformer; every layer's output stacked -> (B, frames, layers, hidden)."""
        h = self.model.feature_projection(feats)
        h = h[0] if isinstance(h, tuple) else h
        enc = self.model.encoder
        h = enc.layer_norm(h + enc.pos_conv_embed(h))
        outputs = []
        for layer in enc.layers:
            h = layer(h)
            h = h[0] if isinstance(h, tuple) else h
            outputs.append(h)
        return torch.stack(outputs, dim=2)


def _modern_names(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official file stores the positional conv's weight norm as weight_g/weight_v (old torch API)."""
    renamed = {}
    for key, value in sd.items():
        key = key.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
        key = key.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")
        renamed[key] = value
    return renamed


def legacy_names(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of ``_modern_names``: how the official pytorch_model.bin spells the weight-norm tensors."""
    out = {}
    for key, value in sd.items():
        key = key.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v")
        out[key] = value
    return out


class AudioFeatures:
    """Frame-indexed access to the features of a prepared waveform, encoding 60 s pieces on demand."""

    def __init__(self, encoder: HubertEncoder, waveform: np.ndarray):
        self.encoder = encoder
        self.waveform = waveform
        starts = range(0, len(waveform), PIECE)
        self.pieces = [(s, min(s + PIECE, len(waveform))) for s in starts]
        counts = [(e - s) // FRAME for s, e in self.pieces]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        self.frames = int(self.offsets[-1])
        self._cache: dict[int, torch.Tensor] = {}

    def _piece(self, i: int) -> torch.Tensor:
        if i not in self._cache:
            s, e = self.pieces[i]
            self._cache[i] = self.encoder.encode_piece(self.waveform[s:e])
        return self._cache[i]

    def __call__(self, start: int, end: int) -> torch.Tensor:
        """Features of frames [start, end); pieces wholly before ``start`` are released."""
        for i in [i for i in self._cache if self.offsets[i + 1] <= start]:
            del self._cache[i]
        parts = []
        for i in range(len(self.pieces)):
            lo, hi = max(start, self.offsets[i]), min(end, self.offsets[i + 1])
            if lo < hi:
                parts.append(self._piece(i)[lo - self.offsets[i]: hi - self.offsets[i]])
        return torch.cat(parts) if parts else torch.zeros(0, self.encoder.layers, 1)
