"""Prompt embeddings: umT5-XXL encoder (transformers ``UMT5EncoderModel``) from Wan's
``models_t5_umt5-xxl-enc-bf16.pth``.

Tokenised with the ``google/umt5-xxl`` tokenizer folder, padded/truncated to 512 tokens, encoded with the
attention mask; positions past the prompt's length are zeros (the reference trims each output to its length and
the DiT zero-pads it back to 512). The prompt is not cleaned (no ftfy/whitespace normalisation), as in the reference.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from core.weights import load_state_dict

from . import keymaps
from .transformer import TEXT_TOKENS


@dataclass(frozen=True)
class T5Config:
    vocab_size: int = 256384
    d_model: int = 4096
    d_kv: int = 64
    d_ff: int = 10240
    num_heads: int = 64
    num_layers: int = 24

    @classmethod
    def from_official(cls, sd) -> T5Config:
        vocab, d_model = sd["token_embedding.weight"].shape
        heads = sd["blocks.0.pos_embedding.embedding.weight"].shape[1]
        return cls(vocab_size=vocab, d_model=d_model, d_kv=sd["blocks.0.attn.q.weight"].shape[0] // heads,
                   d_ff=sd["blocks.0.ffn.fc1.weight"].shape[0], num_heads=heads,
                   num_layers=1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks.")))


UMT5_XXL = T5Config()
TINY = replace(UMT5_XXL, vocab_size=256, d_model=32, d_kv=8, d_ff=64, num_heads=4, num_layers=2)


def build(config: T5Config = UMT5_XXL):
    from transformers import UMT5Config, UMT5EncoderModel

    hf = UMT5Config(vocab_size=config.vocab_size, d_model=config.d_model, d_kv=config.d_kv, d_ff=config.d_ff,
                    num_heads=config.num_heads, num_layers=config.num_layers, feed_forward_proj="gated-gelu",
                    relative_attention_num_buckets=32, relative_attention_max_distance=128,
                    layer_norm_epsilon=1e-6, dropout_rate=0.0, tie_word_embeddings=False)
    return UMT5EncoderModel(hf)


def load(path: Path):
    state = load_state_dict(path)
    model = build(T5Config.from_official(state))
    keymaps.load_strict(model, keymaps.UMT5, state, path.name,
                        tied=frozenset({"encoder.embed_tokens.weight"}))
    return model.eval()


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


@torch.no_grad()
def encode(tokenizer, model, prompts: list[str], device: torch.device) -> torch.Tensor:
    """[len(prompts), 512, d_model] float32 on the CPU, zeros past each prompt's tokens. ``device``: where the
    model computes (its weights may be elsewhere under sequential offload)."""
    batch = tokenizer(prompts, padding="max_length", max_length=TEXT_TOKENS, truncation=True,
                      add_special_tokens=True, return_tensors="pt")
    mask = batch.attention_mask.to(device)
    hidden = model(input_ids=batch.input_ids.to(device), attention_mask=mask).last_hidden_state
    return (hidden * mask[..., None].to(hidden.dtype)).float().cpu()
