"""Strict key maps from the official checkpoint files to the modules Mouthpiece builds.

Each map is a ``KeyMap``: an ordered list of (official, ours) name patterns, used in both directions (the loader
renames official → ours; the tiny test-checkpoint factory writes ours → official, so test files have the real
layout). A pattern ending in ``.`` renames a prefix, any other pattern renames a whole key; ``{n}`` matches a
block number. ``load_strict`` refuses a file unless every key is used (or listed as deliberately unused), none of
the module's keys is missing, and every shape matches.

Files and maps:

* ``DIT``: Wan's original DiT names (the Fun ``diffusion_pytorch_model.safetensors`` and StableAvatar's
  ``transformer3d-*.pt``) → diffusers ``WanTransformer3DModel`` names, plus ``blocks.N.cross_attn.{k,v}_vocal``
  → ``blocks.N.attn2.to_{k,v}_vocal`` and ``vocal_projector.*`` verbatim (Wan's renames would mangle them).
* ``vae_map()``: ``Wan2.1_VAE.pth`` → diffusers ``AutoencoderKLWan``.
* ``UMT5``: ``models_t5_umt5-xxl-enc-bf16.pth`` → transformers ``UMT5EncoderModel``.
* ``WAV2VEC2``: ``wav2vec2-base-960h/pytorch_model.bin`` (a ``Wav2Vec2ForCTC``) → ``Wav2Vec2Model``; the CTC
  head is unused. ``Wav2Vec2Model`` has a ``masked_spec_embed`` parameter (SpecAugment's mask vector, used only in
  training) that the official file does not hold (public reports: EvelynFan/FaceFormer#3, Omni-Avatar/OmniAvatar#12):
  it may be absent, by that name only (``WAV2VEC2_ABSENT``), and then keeps its initial value, unused in inference.
* ``CLIP``: ``models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth`` → ``core.wan.image.VisionTower``
  (``visual.*``; the XLM-RoBERTa text tower and ``log_scale`` are unused, as in the reference).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from core.errors import BadInputError


def _compile(pattern: str, prefix: bool) -> re.Pattern:
    body = re.escape(pattern).replace(r"\{n\}", r"(\d+)")
    return re.compile("^" + body + ("" if prefix else "$"))


def _fill(template: str, numbers: tuple[str, ...]) -> str:
    for number in numbers:
        template = template.replace("{n}", number, 1)
    return template


@dataclass(frozen=True)
class KeyMap:
    """Bidirectional renaming; ``unused`` lists official prefixes that are deliberately not loaded."""

    name: str
    rules: tuple[tuple[str, str], ...]
    unused: tuple[str, ...] = ()
    _compiled: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        # a rule is a prefix rule when its official side ends in "." (its other side may be "": strip the prefix)
        compiled = tuple((_compile(a, a.endswith(".")), b, _compile(b, a.endswith(".")), a) for a, b in self.rules)
        object.__setattr__(self, "_compiled", compiled)

    def _rename(self, key: str, forward: bool) -> str | None:
        for src_a, dst_b, src_b, dst_a in self._compiled:
            pattern, template = (src_a, dst_b) if forward else (src_b, dst_a)
            match = pattern.match(key)
            if match:
                return _fill(template, match.groups()) + key[match.end():]
        return None

    def to_ours(self, key: str) -> str | None:
        """Our name for an official key; None for a deliberately unused key; BadInputError for an unknown one."""
        if key.startswith(self.unused):
            return None
        ours = self._rename(key, forward=True)
        if ours is None:
            raise BadInputError(f"{self.name}: unexpected key {key!r}; is this the right file?")
        return ours

    def to_official(self, key: str) -> str:
        official = self._rename(key, forward=False)
        if official is None:
            raise KeyError(f"{self.name}: no official name for {key!r}")
        return official

    def official_state_dict(self, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A module's state dict under the official names (used to write test files in the real layout)."""
        return {self.to_official(k): v for k, v in state.items()}


def rename_strict(keymap: KeyMap, state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Size],
                  source: str, allow_missing: frozenset[str] = frozenset()) -> dict[str, torch.Tensor]:
    """Rename ``state`` and check it against ``expected`` (our key → shape): every key used, none missing
    (except ``allow_missing``), shapes equal. Errors name the file and the first offending keys."""
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        ours = keymap.to_ours(key)
        if ours is None:
            continue
        if ours in renamed:
            raise BadInputError(f"{source}: two keys map to {ours!r}")
        if ours not in expected:
            raise BadInputError(f"{source}: key {key!r} has no place in the model; is this the right file?")
        if tuple(value.shape) != tuple(expected[ours]):
            raise BadInputError(f"{source}: {key!r} has shape {tuple(value.shape)}, expected "
                                f"{tuple(expected[ours])}; is this the right model size?")
        renamed[ours] = value
    missing = sorted(set(expected) - set(renamed) - allow_missing)
    if missing:
        shown = ", ".join(_official_name(keymap, k) for k in missing[:4])
        raise BadInputError(f"{source}: {len(missing)} weights missing ({shown}...); the file is incomplete")
    return renamed


def _official_name(keymap: KeyMap, ours: str) -> str:
    """The official name of one of our keys for a message; our own name where the map has no rule for it."""
    try:
        return keymap.to_official(ours)
    except KeyError:
        return ours


def load_strict(module: torch.nn.Module, keymap: KeyMap, state: Mapping[str, torch.Tensor], source: str,
                tied: frozenset[str] = frozenset(), absent: frozenset[str] = frozenset()) -> None:
    """Load an official state dict into ``module`` through ``keymap`` (``tied``: our keys filled by tying;
    ``absent``: our keys the official file does not hold, which keep the module's own values)."""
    expected = {k: v.shape for k, v in module.state_dict().items() if k not in tied}
    renamed = rename_strict(keymap, state, expected, source, allow_missing=absent)
    module.load_state_dict(renamed, strict=not (tied or absent))


def _linear_pairs(pairs: dict[str, str]) -> list[tuple[str, str]]:
    return [(a + ".", b + ".") for a, b in pairs.items()]


_ATTN = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out.0", "norm_q": "norm_q", "norm_k": "norm_k"}
_CROSS = dict(_ATTN, k_img="add_k_proj", v_img="add_v_proj", norm_k_img="norm_added_k",
              k_vocal="to_k_vocal", v_vocal="to_v_vocal")

DIT = KeyMap("DiT", tuple(
    [("patch_embedding.", "patch_embedding."), ("vocal_projector.", "vocal_projector.")]
    + _linear_pairs({"time_embedding.0": "condition_embedder.time_embedder.linear_1",
                     "time_embedding.2": "condition_embedder.time_embedder.linear_2",
                     "text_embedding.0": "condition_embedder.text_embedder.linear_1",
                     "text_embedding.2": "condition_embedder.text_embedder.linear_2",
                     "time_projection.1": "condition_embedder.time_proj",
                     "img_emb.proj.0": "condition_embedder.image_embedder.norm1",
                     "img_emb.proj.1": "condition_embedder.image_embedder.ff.net.0.proj",
                     "img_emb.proj.3": "condition_embedder.image_embedder.ff.net.2",
                     "img_emb.proj.4": "condition_embedder.image_embedder.norm2",
                     "head.head": "proj_out",
                     "blocks.{n}.norm3": "blocks.{n}.norm2",
                     "blocks.{n}.ffn.0": "blocks.{n}.ffn.net.0.proj",
                     "blocks.{n}.ffn.2": "blocks.{n}.ffn.net.2"})
    + _linear_pairs({f"blocks.{{n}}.self_attn.{a}": f"blocks.{{n}}.attn1.{b}" for a, b in _ATTN.items()})
    + _linear_pairs({f"blocks.{{n}}.cross_attn.{a}": f"blocks.{{n}}.attn2.{b}" for a, b in _CROSS.items()})
    + [("head.modulation", "scale_shift_table"), ("blocks.{n}.modulation", "blocks.{n}.scale_shift_table")]))

AUDIO_KEY = re.compile(r"^(vocal_projector\.|blocks\.\d+\.cross_attn\.[kv]_vocal\.)")


def is_audio_key(official: str) -> bool:
    """True for the 160 tensors StableAvatar adds to Wan2.1-Fun (absent from the Fun base file)."""
    return bool(AUDIO_KEY.match(official))


_RESIDUAL = {"residual.0": "norm1", "residual.2": "conv1", "residual.3": "norm2", "residual.6": "conv2",
             "shortcut": "conv_shortcut", "resample": "resample", "time_conv": "time_conv"}


def vae_map(num_res_blocks: int = 2, stages: int = 4) -> KeyMap:
    """Wan VAE names → diffusers. Encoder ``downsamples.j`` keep their flat index; decoder ``upsamples.j`` are
    grouped into stages of ``num_res_blocks + 1`` residual blocks followed by one upsampler (none after the last)."""
    rules = [("encoder.conv1.", "encoder.conv_in."), ("decoder.conv1.", "decoder.conv_in."),
             ("conv1.", "quant_conv."), ("conv2.", "post_quant_conv.")]
    for side in ("encoder", "decoder"):
        rules += [(f"{side}.head.0.", f"{side}.norm_out."), (f"{side}.head.2.", f"{side}.conv_out."),
                  (f"{side}.middle.1.", f"{side}.mid_block.attentions.0.")]
        for index, resnet in ((0, 0), (2, 1)):
            rules += [(f"{side}.middle.{index}.{a}.", f"{side}.mid_block.resnets.{resnet}.{b}.")
                      for a, b in _RESIDUAL.items()]
        rules += [(f"encoder.downsamples.{{n}}.{a}.", f"encoder.down_blocks.{{n}}.{b}.") for a, b in _RESIDUAL.items()]
    per_stage = num_res_blocks + 2
    for j in range(stages * per_stage - 1):
        stage, pos = divmod(j, per_stage)
        target = f"decoder.up_blocks.{stage}." + (f"resnets.{pos}" if pos <= num_res_blocks else "upsamplers.0")
        rules += [(f"decoder.upsamples.{j}.{a}.", f"{target}.{b}.") for a, b in _RESIDUAL.items()]
    return KeyMap("VAE", tuple(rules))


_T5_BLOCK = {"norm1": "layer.0.layer_norm", "attn.q": "layer.0.SelfAttention.q", "attn.k": "layer.0.SelfAttention.k",
             "attn.v": "layer.0.SelfAttention.v", "attn.o": "layer.0.SelfAttention.o",
             "pos_embedding.embedding": "layer.0.SelfAttention.relative_attention_bias",
             "norm2": "layer.1.layer_norm", "ffn.gate.0": "layer.1.DenseReluDense.wi_0",
             "ffn.fc1": "layer.1.DenseReluDense.wi_1", "ffn.fc2": "layer.1.DenseReluDense.wo"}
UMT5 = KeyMap("umT5", tuple(
    [("token_embedding.", "shared."), ("norm.", "encoder.final_layer_norm.")]
    + _linear_pairs({f"blocks.{{n}}.{a}": f"encoder.block.{{n}}.{b}" for a, b in _T5_BLOCK.items()})))

CLIP = KeyMap("CLIP", (("visual.", ""),), unused=("textual.", "log_scale"))

WAV2VEC2 = KeyMap("wav2vec2", (
    ("wav2vec2.encoder.pos_conv_embed.conv.weight_g", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    ("wav2vec2.encoder.pos_conv_embed.conv.weight_v", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    ("wav2vec2.", "")), unused=("lm_head.",))
WAV2VEC2_ABSENT = frozenset({"masked_spec_embed"})
