"""MoDA's audio path: padding silence and PCM quantisation, strict HuBERT loading from the official folder layout,
presample alignment to 25 fps, all 12 layer outputs, and lazy 60 s pieces."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.moda import weights as PW
from core.moda.audio import FRAME, PIECE, SILENT_FRAMES, AudioFeatures, HubertEncoder, prepare_waveform
from core.errors import BadInputError


@pytest.fixture(scope="module")
def hubert_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hubert") / "chinese-hubert-base"
    PW.write_test_hubert(folder)
    return folder


@pytest.fixture(scope="module")
def encoder(hubert_dir):
    return HubertEncoder.load(hubert_dir, torch.device("cpu"))


def test_prepare_waveform_preemphasis_silence_and_16bit():
    rng = np.random.default_rng(0)
    speech = (rng.standard_normal(8000) * 0.1).astype(np.float32)
    y = prepare_waveform(speech)
    assert len(y) == 8000 + 32000 and SILENT_FRAMES == 50
    assert not y[8000:].any()                                   # 2 s of digital silence
    assert np.allclose(y * 32768, np.round(y * 32768))          # 16-bit PCM values
    expected = speech[1:] - 0.97 * speech[:-1]                  # pre-emphasis, then quantisation
    assert np.abs(y[1:8000] - expected).max() <= 1.5 / 32768 + 1e-6
    with pytest.raises(BadInputError):
        prepare_waveform(np.zeros(1, np.float32))


def test_official_folder_layout_loads_strictly(hubert_dir, tmp_path):
    sd = torch.load(hubert_dir / "pytorch_model.bin", weights_only=True)
    assert "encoder.pos_conv_embed.conv.weight_g" in sd and "encoder.pos_conv_embed.conv.weight_v" in sd
    assert json.loads((hubert_dir / "preprocessor_config.json").read_text())["do_normalize"] is True
    for mutate, message in ((lambda d: d.pop("encoder.layers.11.final_layer_norm.bias"), "missing"),
                            (lambda d: d.update({"encoder.layers.12.extra": torch.zeros(1)}), "unexpected")):
        broken = tmp_path / message
        broken.mkdir()
        for name in ("config.json", "preprocessor_config.json"):
            (broken / name).write_bytes((hubert_dir / name).read_bytes())
        bad = dict(sd)
        mutate(bad)
        torch.save(bad, broken / "pytorch_model.bin")
        with pytest.raises(BadInputError, match=message):
            HubertEncoder.load(broken, torch.device("cpu"))


def test_layer_outputs_are_the_12_transformer_layers(encoder):
    """Our loop over the encoder equals transformers' HubertModel hidden_states[1:] on the same features."""
    wav = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    model = encoder.model
    with torch.no_grad():
        feats = model.feature_extractor(wav).transpose(1, 2)
        ours = encoder.layer_outputs(feats)
        theirs = model(wav, output_hidden_states=True).hidden_states
    assert len(theirs) == 13 and ours.shape == (1, feats.shape[1], 12, 16)
    torch.testing.assert_close(ours, torch.stack(theirs[1:], dim=2), atol=1e-5, rtol=1e-4)


def test_presample_interpolates_cnn_features_before_the_transformer(encoder):
    frames = 5
    wav = torch.randn(1, frames * FRAME + 80, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        cnn = encoder.model.feature_extractor(wav)[0].T          # (2 * frames, C) at 50 Hz
        out = encoder.presampled(wav, frames)[0]
    assert cnn.shape[0] == 2 * frames
    for i in range(frames):  # align_corners: frame i samples the 50 Hz track at i * (2f - 1) / (f - 1)
        pos = i * (2 * frames - 1) / (frames - 1)
        lo, frac = int(pos), pos - int(pos)
        hi = min(lo + 1, 2 * frames - 1)
        torch.testing.assert_close(out[i], cnn[lo] * (1 - frac) + cnn[hi] * frac, atol=1e-5, rtol=1e-4)


def test_encode_piece_shape_normalisation_and_padding(encoder):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(7 * FRAME + 300).astype(np.float32) * 0.2 + 0.05
    out = encoder.encode_piece(x)
    assert out.shape == (7, 12, 16) and out.dtype == torch.float32
    # zero-mean/unit-variance over the whole piece, then the trailing partial frame is dropped, then
    # reflect-padding 20 + 20 per side: the CNN then yields exactly 2 features per frame.
    norm = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    wav = torch.from_numpy(norm[: 7 * FRAME])[None]
    wav = F.pad(F.pad(wav, (20, 20), mode="reflect"), (20, 20), mode="reflect")
    with torch.no_grad():
        expected = encoder.layer_outputs(encoder.presampled(wav, 7))[0]
    torch.testing.assert_close(out, expected)
    assert encoder.encode_piece(x[:FRAME - 1]).shape == (0, 12, 16)


class _FrameIndexEncoder:
    """Stands in for HuBERT to check piece bookkeeping: feature value = sample index of the frame's start."""

    layers = 1

    def __init__(self):
        self.encoded = []

    def encode_piece(self, samples):
        self.encoded.append(len(samples))
        n = len(samples) // FRAME
        return torch.from_numpy(samples[: n * FRAME: FRAME].astype(np.float32)).reshape(n, 1, 1)


def test_audio_features_pieces_are_independent_and_released():
    total = 2 * PIECE + 5 * FRAME + 100          # 60 s + 60 s + 5 frames (+ a partial frame)
    wave = np.arange(total, dtype=np.float64)
    enc = _FrameIndexEncoder()
    feats = AudioFeatures(enc, wave)
    assert feats.frames == 1500 + 1500 + 5
    window = feats(1480, 1560)                   # straddles the first piece boundary
    assert window[:, 0, 0].tolist() == [i * FRAME for i in range(1480, 1560)]
    assert enc.encoded == [PIECE, PIECE]
    feats(1600, 1680)                            # piece 0 is no longer needed
    assert sorted(feats._cache) == [1]
    tail = feats(2990, 3005)
    assert tail[-1, 0, 0].item() == 3004 * FRAME and len(tail) == 15
