"""Parity of Mouthpiece's StableAvatar DiT with the reference implementation, on a small random model.

    python bench/avatar_parity.py --reference /path/to/StableAvatar   (a checkout of Francis-Rings/StableAvatar)

Builds the reference ``WanTransformer3DFantasyModel`` (i2v, dim 1536 as its audio adapter requires, 2 layers,
ffn 256, text_dim 64: about 123 M parameters) with random weights, including the zero-initialised ``k_vocal`` /
``v_vocal``, loads its state dict through Mouthpiece's strict key map into ``AvatarTransformer`` and compares one
guided-batch forward (3 rows, the first with null audio) in fp32 on the CPU, for a 3-latent and a 21-latent window.
The reference's own modules are loaded from the checkout by file path; only its multi-GPU helpers (xfuser) and
TeaCache are replaced by empty stand-ins, as neither runs here. Prints the largest difference per window length.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_reference(root: Path):
    """The reference DiT class, imported from ``root/wan/models`` without its package ``__init__`` files."""
    for name in ("wan", "wan.models", "wan.dist"):
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__path__ = []
    stubs = {"wan.dist": {"get_sequence_parallel_rank": lambda: 0, "get_sequence_parallel_world_size": lambda: 1,
                          "get_sp_group": None, "xFuserLongContextAttention": None},
             "wan.dist.wan_xfuser": {"usp_attn_forward": None}, "wan.models.cache_utils": {"TeaCache": None}}
    for name, attrs in stubs.items():
        module = sys.modules.setdefault(name, types.ModuleType(name))
        module.__dict__.update(attrs)
    for name in ("vocal_projector_fantasy", "vocal_projector_fantasy_1B", "wan_fantasy_transformer3d_1B"):
        spec = importlib.util.spec_from_file_location(f"wan.models.{name}", root / "wan" / "models" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["wan.models.wan_fantasy_transformer3d_1B"].WanTransformer3DFantasyModel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="a checkout of Francis-Rings/StableAvatar")
    args = parser.parse_args()

    from core.wan import keymaps
    from core.wan.audio import token_ranges
    from core.wan.transformer import AvatarTransformer, DiTConfig

    reference_cls = load_reference(args.reference)
    torch.manual_seed(0)
    ref = reference_cls(model_type="i2v", patch_size=(1, 2, 2), text_len=512, in_dim=36, dim=1536, ffn_dim=256,
                        freq_dim=256, text_dim=64, out_dim=16, num_heads=12, num_layers=2, cross_attn_norm=True,
                        qk_norm=True, eps=1e-6).eval()
    with torch.no_grad():
        for name, param in ref.named_parameters():
            if "_vocal" in name:                       # zero-initialised in the reference: give them values
                torch.nn.init.normal_(param, std=0.02)
    state = ref.state_dict()
    ours = AvatarTransformer(DiTConfig.from_official(state)).eval()
    expected = {k: v.shape for k, v in ours.state_dict().items()}
    ours.load_state_dict(keymaps.rename_strict(keymaps.DIT, state, expected, "reference"), strict=True)
    print(f"reference state dict: {len(state)} tensors, {sum(v.numel() for v in state.values()):,} parameters, "
          "all mapped strictly")
    for frames in (3, 21):
        h = w = 4
        x, y = torch.randn(3, 16, frames, h, w), torch.randn(3, 20, frames, h, w)
        t = torch.full((3,), 700.0)
        prompts = [torch.randn(7, 64), torch.randn(7, 64), torch.randn(9, 64)]
        clip = torch.randn(3, 257, 1280)
        tokens = 10 * frames
        audio = torch.randn(1, tokens, 768)
        with torch.no_grad():
            want = ref(x, t, prompts, frames * h * w // 4, clip_fea=clip, y=y, vocal_embeddings=audio.expand(3, -1, -1),
                       video_sample_n_frames=4 * frames - 3)
            text = torch.stack([torch.cat([p, p.new_zeros(512 - len(p), 64)]) for p in prompts])
            got = ours(x, y, t, text, clip, audio, token_ranges(tokens, frames), null_audio_rows=1)
            silent = ours(x, y, t, text, clip, torch.zeros_like(audio), token_ranges(tokens, frames), null_audio_rows=1)
        print(f"{frames:2d} latents: max |ours - reference| = {(got - want).abs().max().item():.2e} "
              f"(mean |v| {want.abs().mean().item():.2f}; the audio moves v by up to {(got - silent).abs().max():.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
