"""Infinite avatar manifest: StableAvatar-1.3B on Wan2.1-Fun-V1.1-1.3B-InP, from HF ``FrancisRing/StableAvatar``.

Local paths mirror that repository (the official download is the whole repo into ``checkpoints/``). Byte sizes
could not be checked against the Hub from here, so ``size`` is left unset (no size check after download) and the
approximate size is in the note. Only ``transformer3d-square.pt`` is used; the repository's
``transformer3d-rec-vec.pt`` (trained on 480x832 and 832x480, same layout) would load through the same map, and
the README says both work at all three sizes.

``make_test_checkpoints`` writes tiny random models (the official structures with narrow widths, see the
``TINY`` configs in ``core.wan``) in the official file names, formats and key layouts: Wan's original names in the
``.pth`` files and the Fun safetensors, StableAvatar's full DiT state dict in ``transformer3d-square.pt``,
``Wav2Vec2ForCTC`` names (``wav2vec2.*`` + ``lm_head``) and a small umT5-style tokenizer.
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import torch

from core.weights import WeightFile

ENGINE = "avatar"
TITLE = "Infinite avatar (StableAvatar on Wan2.1-Fun 1.3B)"
REPO = "FrancisRing/StableAvatar"
FUN = "Wan2.1-Fun-V1.1-1.3B-InP"
DIT = "StableAvatar-1.3B/transformer3d-square.pt"
FUN_DIT = f"{FUN}/diffusion_pytorch_model.safetensors"
VAE = f"{FUN}/Wan2.1_VAE.pth"
T5 = f"{FUN}/models_t5_umt5-xxl-enc-bf16.pth"
TOKENIZER = f"{FUN}/google/umt5-xxl"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
CLIP = f"{FUN}/models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth"
WAV2VEC = "wav2vec2-base-960h"
WAV2VEC_FILES = ("config.json", "preprocessor_config.json", "pytorch_model.bin")


def _file(local: str, note: str) -> WeightFile:
    return WeightFile(local=local, repo_id=REPO, filename=local, note=note)


FILES: list[WeightFile] = [
    _file(DIT, "StableAvatar DiT, full 1,747,426,112-parameter state dict (about 3.5 GB, bf16)"),
    _file(FUN_DIT, "Wan2.1-Fun 1.3B InP DiT (about 3.1 GB); base weights the StableAvatar file overrides"),
    _file(VAE, "Wan2.1 VAE (about 0.5 GB, fp32)"),
    _file(T5, "umT5-XXL encoder (about 11.4 GB, bf16)"),
    _file(CLIP, "open-clip XLM-RoBERTa-large + ViT-H/14 (about 4.8 GB); only the ViT is used"),
] + [_file(f"{TOKENIZER}/{name}", "umT5 tokenizer") for name in TOKENIZER_FILES] \
  + [_file(f"{WAV2VEC}/{name}", "wav2vec2-base-960h speech encoder (about 0.4 GB)") for name in WAV2VEC_FILES]


def _save_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(c, -3.0) for c in string.ascii_letters + string.digits + string.punctuation]
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    special = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(
        dict(special, tokenizer_class="T5Tokenizer", model_max_length=512, extra_ids=0)))
    (folder / "special_tokens_map.json").write_text(json.dumps(special))


TINY_WAV2VEC = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                "conv_dim": (8,) * 7, "conv_stride": (5, 2, 2, 2, 2, 2, 2), "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
                "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4, "feat_extract_norm": "group",
                "do_stable_layer_norm": False, "vocab_size": 32}


def _save_wav2vec(folder: Path) -> None:
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    config = Wav2Vec2Config(**TINY_WAV2VEC, architectures=["Wav2Vec2ForCTC"])
    model = Wav2Vec2ForCTC(config)
    folder.mkdir(parents=True, exist_ok=True)
    config.to_json_file(str(folder / "config.json"))
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
        "padding_side": "right", "padding_value": 0.0, "return_attention_mask": False, "sampling_rate": 16000}))
    state = {k.replace("parametrizations.weight.original0", "weight_g")
             .replace("parametrizations.weight.original1", "weight_v"): v for k, v in model.state_dict().items()
             if k != "wav2vec2.masked_spec_embed"}  # the official file lacks it (see core.wan.keymaps)
    torch.save(state, folder / "pytorch_model.bin")


def make_test_checkpoints(root: str | Path) -> None:
    from safetensors.torch import save_file

    from core.wan import image, keymaps, text, transformer, vae

    root = Path(root)
    for local in (DIT, FUN_DIT, VAE):
        (root / local).parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    base = keymaps.DIT.official_state_dict(transformer.AvatarTransformer(transformer.TINY).state_dict())
    save_file({k: v.contiguous() for k, v in base.items() if not keymaps.is_audio_key(k)}, str(root / FUN_DIT))
    dit = transformer.AvatarTransformer(transformer.TINY)
    torch.save(keymaps.DIT.official_state_dict(dit.state_dict()), root / DIT)
    torch.save(keymaps.vae_map().official_state_dict(vae.build(vae.TINY).state_dict()), root / VAE)
    t5 = text.build(text.TINY).state_dict()
    t5.pop("encoder.embed_tokens.weight")
    torch.save(keymaps.UMT5.official_state_dict(t5), root / T5)
    clip = {f"visual.{k}": v for k, v in image.VisionTower(image.TINY).state_dict().items()}
    clip.update({"textual.token_embedding.weight": torch.randn(8, 4), "log_scale": torch.tensor(4.6)})
    torch.save(clip, root / CLIP)
    _save_tokenizer(root / TOKENIZER)
    _save_wav2vec(root / WAV2VEC)
