"""MoDA's own weights: the motion DiT (HF ``lixinyizju/moda``) and chinese-hubert-base, in MoDA's layout
(``moda/net-200.pth``, ``audio/chinese-hubert-base/``), and their tiny test writers. Shared by the engines that
generate MoDA motion (portrait, expression); each adds the LivePortrait set it renders with.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from core.liveportrait import weights as lpw
from core.weights import WeightFile

MODA_REPO = lpw.MODA_REPO
HUBERT_REPO = "TencentGameMate/chinese-hubert-base"  # the encoder MoDA's configs name; same files as MoDA's copy

DIT = "moda/net-200.pth"
HUBERT_DIR = "audio/chinese-hubert-base"
HUBERT_FILES = ("config.json", "preprocessor_config.json", "pytorch_model.bin")

FILES: list[WeightFile] = [
    WeightFile(local=DIT, repo_id=MODA_REPO, filename=DIT, note="MoDA motion DiT (373 M params)"),
] + [
    WeightFile(local=f"{HUBERT_DIR}/{name}", repo_id=HUBERT_REPO, filename=name,
               note="chinese-hubert-base, stored where MoDA's layout keeps it (audio/chinese-hubert-base/)")
    for name in HUBERT_FILES
]


# Tiny test models: the official structures (12 HuBERT layers, 3/6/12 DiT blocks) with small widths.
TINY_HUBERT = {"hidden_size": 16, "num_hidden_layers": 12, "num_attention_heads": 2, "intermediate_size": 32,
               "conv_dim": (8,) * 7, "conv_stride": (5, 2, 2, 2, 2, 2, 2), "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
               "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4, "feat_extract_norm": "group",
               "do_stable_layer_norm": False}
PREPROCESSOR = {"do_normalize": True, "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
                "padding_side": "right", "padding_value": 0, "return_attention_mask": False, "sampling_rate": 16000}


def write_test_hubert(folder: Path, seed: int = 0) -> None:
    """A tiny HuBERT in the official folder layout (config.json, preprocessor_config.json, pytorch_model.bin)."""
    from transformers import HubertConfig, HubertModel

    from .audio import legacy_names

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = HubertConfig(**TINY_HUBERT, architectures=["HubertModel"])
    model = HubertModel(config)
    config.to_json_file(str(folder / "config.json"))
    (folder / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2))
    torch.save(legacy_names(model.state_dict()), folder / "pytorch_model.bin")


def write_test_dit(path: Path, seed: int = 0, with_null_audio: bool = False) -> None:
    """A tiny motion DiT saved the way MotionDiffusion's state_dict looks: ``talking_head_dit.*`` + sigmas."""
    from .dit import DiTConfig, TalkingHeadDiT

    torch.manual_seed(seed)
    audio_dim = TINY_HUBERT["hidden_size"]
    dit = TalkingHeadDiT(DiTConfig(audio_in=TINY_HUBERT["num_hidden_layers"] * audio_dim, hidden=32, heads=2))
    sd = {f"talking_head_dit.{k}": v for k, v in dit.state_dict().items()}
    sd["scheduler.sigmas"] = torch.arange(1, 1001, dtype=torch.float32) / 1000
    if with_null_audio:
        sd["null_audio_feat"] = torch.randn(1, 1, 1, 1, audio_dim)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)


def make_test_checkpoints(root: str | Path) -> None:
    """The tiny DiT and HuBERT in MoDA's layout."""
    root = Path(root)
    write_test_dit(root / DIT)
    write_test_hubert(root / HUBERT_DIR)
