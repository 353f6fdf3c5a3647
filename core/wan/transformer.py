"""StableAvatar's DiT: diffusers ``WanTransformer3DModel`` (Wan2.1-Fun I2V 1.3B) plus the audio path.

The base model is diffusers' class built from an explicit config (``DiTConfig``; ``from_single_file`` would
mis-detect the checkpoint as T2V). The audio path is added with module names chosen so StableAvatar's keys map
strictly (see ``core.wan.keymaps``):

* ``blocks.N.attn2.to_k_vocal`` / ``to_v_vocal``: per-block projections of the per-latent-frame audio context.
  ``VocalAttnProcessor`` makes each latent frame's (already RMS-normalised) queries attend to that frame's audio
  tokens only; the result is added to the text and image attention outputs before ``to_out``.
* ``vocal_projector``: the time-step-aware audio adapter (Linear+LayerNorm, two modulated blocks in which each
  frame's audio tokens cross-attend to that frame's patch tokens, final modulated head).

Deviations from the reference (``wan_fantasy_transformer3d_1B.py``), all deliberate:

* Numerics follow diffusers: modulation, norms and residual adds in fp32, fp32 sinusoid, real-valued RoPE
  (the reference keeps a bf16 residual stream and bf16 ``e0``). Same maths: in fp32 the velocity matches the
  reference implementation to 5e-6 (``bench/avatar_parity.py``: 21- and 3-latent windows, the reference called
  with the same frame count, so without its padding of short windows).
* A window shorter than 21 latents is not zero-padded to the 21-frame sequence length: its tokens alone enter
  self-attention, and its audio is split over its own frames (the reference pads with unmasked zero tokens and
  spreads the audio of the short window over 21 slots). Training only ever saw full windows, so neither choice
  was trained; ours keeps audio and frames aligned.
* Text is always 512 tokens (zero padded by ``core.wan.text``), as the reference pads inside the DiT.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import WanTransformer3DModel
from diffusers.models.attention_dispatch import dispatch_attention_fn
from torch import nn

from core.weights import load_state_dict

from . import keymaps

TEXT_TOKENS = 512


@dataclass(frozen=True)
class DiTConfig:
    """Everything that shapes the DiT. The defaults are Wan2.1-Fun-V1.1-1.3B-InP + StableAvatar-1.3B."""

    num_attention_heads: int = 12
    attention_head_dim: int = 128
    in_channels: int = 36           # 16 noise + 4 mask + 16 reference latent
    out_channels: int = 16
    text_dim: int = 4096
    freq_dim: int = 256
    ffn_dim: int = 8960
    num_layers: int = 30
    image_dim: int = 1280
    eps: float = 1e-6
    audio_dim: int = 768            # wav2vec2-base hidden size
    vocal_heads: int = 8
    vocal_layers: int = 2

    @property
    def dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @classmethod
    def from_official(cls, sd: Mapping[str, torch.Tensor]) -> DiTConfig:
        """Sizes from an official state dict (the files carry no config); Wan's head width is always 128."""
        dim, in_channels = sd["patch_embedding.weight"].shape[:2]
        return cls(num_attention_heads=dim // 128, attention_head_dim=128, in_channels=in_channels,
                   out_channels=sd["head.head.weight"].shape[0] // 4, text_dim=sd["text_embedding.0.weight"].shape[1],
                   freq_dim=sd["time_embedding.0.weight"].shape[1], ffn_dim=sd["blocks.0.ffn.0.weight"].shape[0],
                   num_layers=1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks.")),
                   image_dim=sd["img_emb.proj.0.weight"].shape[0],
                   audio_dim=sd["vocal_projector.proj_model.proj.weight"].shape[1],
                   vocal_layers=1 + max(int(k.split(".")[2]) for k in sd if k.startswith("vocal_projector.blocks.")))

    def wan_kwargs(self) -> dict:
        """The diffusers config, passed explicitly (patch (1,2,2), cross-attn norm, RMS q/k norm across heads)."""
        kwargs = asdict(self)
        for key in ("audio_dim", "vocal_heads", "vocal_layers"):
            kwargs.pop(key)
        return dict(kwargs, patch_size=(1, 2, 2), cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                    added_kv_proj_dim=self.dim)


STABLE_AVATAR_1_3B = DiTConfig()
# Tiny test model: the official structure (every module, two blocks) with narrow widths.
TINY = replace(STABLE_AVATAR_1_3B, num_attention_heads=1, text_dim=32, ffn_dim=64, num_layers=2, image_dim=160,
               audio_dim=32)


def _frame_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, frames: int) -> torch.Tensor:
    """Attention restricted to each latent frame: [B, F·T, H, D] queries vs [B, F·K, H, D] keys → [B, F·T, H·D]."""
    batch, q_len, heads, head_dim = query.shape
    q = query.reshape(batch * frames, q_len // frames, heads, head_dim).transpose(1, 2)
    k = key.reshape(batch * frames, -1, heads, head_dim).transpose(1, 2)
    v = value.reshape(batch * frames, -1, heads, head_dim).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(batch, q_len, heads * head_dim)


class VocalAttnProcessor:
    """Wan I2V cross-attention (text + image) plus per-frame audio attention through ``to_k/v_vocal``.

    ``vocal_context`` is [B, F, K, C] (F latent frames of K audio tokens); the keys get no norm, as in the reference.
    """

    def __call__(self, attn, hidden_states, encoder_hidden_states, attention_mask=None, rotary_emb=None,
                 vocal_context: torch.Tensor | None = None):
        image_tokens = encoder_hidden_states.shape[1] - TEXT_TOKENS
        context_img = encoder_hidden_states[:, :image_tokens]
        context = encoder_hidden_states[:, image_tokens:]
        query = attn.norm_q(attn.to_q(hidden_states)).unflatten(2, (attn.heads, -1))
        key = attn.norm_k(attn.to_k(context)).unflatten(2, (attn.heads, -1))
        value = attn.to_v(context).unflatten(2, (attn.heads, -1))
        key_img = attn.norm_added_k(attn.add_k_proj(context_img)).unflatten(2, (attn.heads, -1))
        value_img = attn.add_v_proj(context_img).unflatten(2, (attn.heads, -1))
        out = dispatch_attention_fn(query, key, value).flatten(2, 3).type_as(query)
        out = out + dispatch_attention_fn(query, key_img, value_img).flatten(2, 3).type_as(query)
        if vocal_context is not None:
            frames = vocal_context.shape[1]
            vocal = vocal_context.flatten(1, 2).to(query.dtype)
            key_v = attn.to_k_vocal(vocal).unflatten(2, (attn.heads, -1))
            value_v = attn.to_v_vocal(vocal).unflatten(2, (attn.heads, -1))
            out = out + _frame_attention(query, key_v, value_v, frames).type_as(query)
        return attn.to_out[1](attn.to_out[0](out))


class _LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 whatever the input's and weights' precision (Wan's ``WanLayerNorm``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.float()
        bias = None if self.bias is None else self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps).type_as(x)


class _ProjModel(nn.Module):
    def __init__(self, audio_dim: int, dim: int):
        super().__init__()
        self.proj = nn.Linear(audio_dim, dim, bias=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class _VocalCrossAttention(nn.Module):
    """Each frame's audio tokens attend to the same frame's patch tokens (RMS-normalised q and k)."""

    def __init__(self, dim: int, heads: int, eps: float):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q = nn.RMSNorm(dim, eps=eps)
        self.norm_k = nn.RMSNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, patches: torch.Tensor, frames: int) -> torch.Tensor:
        q = self.norm_q(self.q(x)).unflatten(2, (self.heads, -1))
        k = self.norm_k(self.k(patches)).unflatten(2, (self.heads, -1))
        v = self.v(patches).unflatten(2, (self.heads, -1))
        return self.o(_frame_attention(q, k, v, frames))


class _VocalBlock(nn.Module):
    """Modulated residual (no attention, as in the reference), frame-local cross-attention, modulated FFN."""

    def __init__(self, dim: int, heads: int, eps: float):
        super().__init__()
        self.norm1 = _LayerNorm(dim, eps, elementwise_affine=False)
        self.norm3 = _LayerNorm(dim, eps, elementwise_affine=True)
        self.cross_attn = _VocalCrossAttention(dim, heads, eps)
        self.norm2 = _LayerNorm(dim, eps, elementwise_affine=False)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(approximate="tanh"), nn.Linear(2 * dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)

    def forward(self, x, e0, patches, frames):
        shift1, scale1, gate1, shift2, scale2, gate2 = (self.modulation + e0.float()).chunk(6, dim=1)
        x = x + ((self.norm1(x).float() * (1 + scale1) + shift1) * gate1).type_as(x)
        x = x + self.cross_attn(self.norm3(x), patches, frames)
        y = self.ffn((self.norm2(x).float() * (1 + scale2) + shift2).type_as(x))
        return x + (y.float() * gate2).type_as(x)


class _FinalHead(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.norm = _LayerNorm(dim, eps, elementwise_affine=False)
        self.final_proj = nn.Linear(dim, dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        shift, scale = (self.modulation + temb.float().unsqueeze(1)).chunk(2, dim=1)
        return self.final_proj((self.norm(x).float() * (1 + scale) + shift).type_as(x))


class VocalProjector(nn.Module):
    """wav2vec features of one window → per-latent-frame audio context [1, F, K, dim]."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.proj_model = _ProjModel(config.audio_dim, config.dim)
        self.blocks = nn.ModuleList(_VocalBlock(config.dim, config.vocal_heads, config.eps)
                                    for _ in range(config.vocal_layers))
        self.final_head = _FinalHead(config.dim, config.eps)

    def forward(self, features: torch.Tensor, ranges: Sequence[tuple[int, int]], patches: torch.Tensor,
                e0: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """``features`` [1, La, audio_dim]; ``ranges`` one [start, end) token range per latent frame (all equal
        length, may reach outside [0, La): see ``_take``);
        ``patches`` [1, F·T, dim] patch-embedded tokens; ``e0`` [1, 6, dim]; ``temb`` [1, dim]."""
        tokens = self.proj_model(features)
        frames = len(ranges)
        x = torch.stack([_take(tokens, start, end) for start, end in ranges], dim=1)  # [1, F, K, dim]
        x = x.flatten(1, 2)
        for block in self.blocks:
            x = block(x, e0, patches, frames)
        return self.final_head(x, temb).unflatten(1, (frames, -1))


def _take(tokens: torch.Tensor, start: int, end: int) -> torch.Tensor:
    """The tokens of [start, end) that exist, then zeros up to ``end - start`` tokens. Zeros go at the end even
    for a range starting before 0, as the reference's ``split_tensor_with_padding`` does (and training saw)."""
    piece = tokens[:, max(start, 0):max(min(end, tokens.shape[1]), 0)]
    pad = tokens.new_zeros(tokens.shape[0], end - start - piece.shape[1], tokens.shape[2])
    return torch.cat([piece, pad], dim=1)


class AvatarTransformer(WanTransformer3DModel):
    """diffusers' Wan I2V DiT with StableAvatar's audio path; see the module docstring for the contract."""

    def __init__(self, config: DiTConfig = STABLE_AVATAR_1_3B):
        super().__init__(**config.wan_kwargs())
        self.avatar_config = config
        self.vocal_projector = VocalProjector(config)
        for block in self.blocks:
            block.attn2.to_k_vocal = nn.Linear(config.dim, config.dim)
            block.attn2.to_v_vocal = nn.Linear(config.dim, config.dim)
            block.attn2.set_processor(VocalAttnProcessor())
            block.forward = partial(_block_forward, block)  # called as a module, so offload hooks still fire

    def forward(self, latents: torch.Tensor, cond: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor,
                image: torch.Tensor, audio: torch.Tensor, audio_ranges: Sequence[tuple[int, int]],
                null_audio_rows: int = 0) -> torch.Tensor:
        """One velocity prediction.

        latents [B, 16, F, h, w]; cond [B, 20, F, h, w] (mask + reference latent); timestep [B] (0..1000);
        text [B, 512, text_dim]; image [B, 257, image_dim]; audio [1, La, audio_dim] wav2vec features of this
        window with ``audio_ranges`` (one per latent frame, ``len == F``). The projector runs once on the last
        row; the first ``null_audio_rows`` rows get zeros at the projector output (the reference's null audio).
        Returns the velocity [B, 16, F, h, w].
        """
        batch, _, frames, height, width = latents.shape
        if len(audio_ranges) != frames:
            raise ValueError(f"{len(audio_ranges)} audio ranges for {frames} latent frames")
        hidden = torch.cat([latents, cond], dim=1).to(self.patch_embedding.weight.dtype)
        rotary_emb = self.rope(hidden)
        tokens = self.patch_embedding(hidden).flatten(2).transpose(1, 2).contiguous()
        temb, timestep_proj, text_emb, image_emb = self.condition_embedder(timestep, text, image)
        timestep_proj = timestep_proj.unflatten(1, (6, -1))
        context = torch.cat([image_emb, text_emb], dim=1)
        vocal = self.vocal_projector(audio.to(tokens.dtype), audio_ranges, tokens[-1:], timestep_proj[-1:],
                                     temb[-1:])
        vocal = torch.cat([torch.zeros_like(vocal).expand(null_audio_rows, -1, -1, -1),
                           vocal.expand(batch - null_audio_rows, -1, -1, -1)])
        for block in self.blocks:
            tokens = block(tokens, context, timestep_proj, rotary_emb, vocal)
        shift, scale = (self.scale_shift_table + temb.float().unsqueeze(1)).chunk(2, dim=1)
        tokens = (self.norm_out(tokens.float()) * (1 + scale) + shift).type_as(tokens)
        out = self.proj_out(tokens)
        out = out.reshape(batch, frames, height // 2, width // 2, 1, 2, 2, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return out.flatten(6, 7).flatten(4, 5).flatten(2, 3)


def _block_forward(block, x, context, timestep_proj, rotary_emb, vocal):
    """diffusers' ``WanTransformerBlock.forward`` (Wan 2.1 path) with the audio context passed to ``attn2``."""
    shift1, scale1, gate1, shift2, scale2, gate2 = (block.scale_shift_table + timestep_proj.float()).chunk(6, dim=1)
    h = (block.norm1(x.float()) * (1 + scale1) + shift1).type_as(x)
    x = (x.float() + block.attn1(h, None, None, rotary_emb) * gate1).type_as(x)
    h = block.norm2(x.float()).type_as(x)
    x = x + block.attn2(h, context, None, None, vocal_context=vocal)
    h = (block.norm3(x.float()) * (1 + scale2) + shift2).type_as(x)
    return (x.float() + block.ffn(h).float() * gate2).type_as(x)


def load(avatar_path: Path, fun_path: Path) -> AvatarTransformer:
    """Build from StableAvatar's ``transformer3d-*.pt`` (unwrapping ``"state_dict"``), strictly through
    ``keymaps.DIT``. The file is the full DiT; only when it lacks base keys is the Fun safetensors read for them
    (every key of that file must still belong to the base model). The 160 audio tensors must come from the ``.pt``."""
    state = load_state_dict(avatar_path)
    state = state.get("state_dict", state)
    fun: dict = {}
    try:
        config = DiTConfig.from_official(state)
    except KeyError:
        fun = load_state_dict(fun_path)
        config = DiTConfig.from_official({**fun, **state})
    with torch.device("meta"):
        model = AvatarTransformer(config)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    audio = frozenset(keymaps.DIT.to_ours(k) for k in keymaps.DIT.official_state_dict(expected)
                      if keymaps.is_audio_key(k))
    ours = keymaps.rename_strict(keymaps.DIT, state, expected, avatar_path.name,
                                 allow_missing=frozenset(expected) - audio)
    if len(ours) < len(expected):
        base = keymaps.rename_strict(keymaps.DIT, fun or load_state_dict(fun_path), expected, fun_path.name,
                                     allow_missing=audio)
        ours = {**base, **ours}
    model.load_state_dict(ours, strict=True, assign=True)
    model.rope = type(model.rope)(config.attention_head_dim, (1, 2, 2), model.rope.max_seq_len)  # off the meta device
    return model.eval()
