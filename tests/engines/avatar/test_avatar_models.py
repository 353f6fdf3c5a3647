"""StableAvatar models: official key layouts, strict loading of tiny files, and the audio path's behaviour."""
import pytest
import torch

from core.errors import BadInputError
from core.wan import audio, image, keymaps, text, transformer, vae

pytest_plugins = ["tests.avatar_support"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def reference_dit_keys(layers: int = 30, vocal_layers: int = 2) -> set[str]:
    """StableAvatar's state dict names, written from the reference layout (wan_fantasy_transformer3d_1B.py,
    vocal_projector_fantasy_1B.py), independently of the key map."""
    wb = ("weight", "bias")
    keys = {f"{m}.{p}" for m in ("patch_embedding", "time_embedding.0", "time_embedding.2", "time_projection.1",
                                 "text_embedding.0", "text_embedding.2", "img_emb.proj.0", "img_emb.proj.1",
                                 "img_emb.proj.3", "img_emb.proj.4", "head.head") for p in wb}
    keys.add("head.modulation")
    for n in range(layers):
        b = f"blocks.{n}"
        keys |= {f"{b}.modulation", f"{b}.self_attn.norm_q.weight", f"{b}.self_attn.norm_k.weight",
                 f"{b}.cross_attn.norm_q.weight", f"{b}.cross_attn.norm_k.weight", f"{b}.cross_attn.norm_k_img.weight"}
        keys |= {f"{b}.self_attn.{m}.{p}" for m in "qkvo" for p in wb}
        keys |= {f"{b}.cross_attn.{m}.{p}" for m in ("q", "k", "v", "o", "k_img", "v_img", "k_vocal", "v_vocal")
                 for p in wb}
        keys |= {f"{b}.{m}.{p}" for m in ("norm3", "ffn.0", "ffn.2") for p in wb}
    vp = "vocal_projector"
    keys |= {f"{vp}.proj_model.proj.weight", f"{vp}.proj_model.norm.weight", f"{vp}.proj_model.norm.bias",
             f"{vp}.final_head.modulation", f"{vp}.final_head.final_proj.weight", f"{vp}.final_head.final_proj.bias"}
    for n in range(vocal_layers):
        b = f"{vp}.blocks.{n}"
        keys |= {f"{b}.modulation", f"{b}.cross_attn.norm_q.weight", f"{b}.cross_attn.norm_k.weight"}
        keys |= {f"{b}.{m}.{p}" for m in ("norm3", "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o",
                                          "ffn.0", "ffn.2") for p in wb}
    return keys


def test_full_size_dit_uses_every_official_key():
    with torch.device("meta"):
        model = transformer.AvatarTransformer(transformer.STABLE_AVATAR_1_3B)
    ours = model.state_dict()
    official = keymaps.DIT.official_state_dict(ours)
    assert set(official) == reference_dit_keys()
    assert {keymaps.DIT.to_ours(k) for k in official} == set(ours)
    assert len(official) == 1143
    audio_keys = [k for k in official if keymaps.is_audio_key(k)]
    assert len(audio_keys) == 160
    assert sum(v.numel() for v in ours.values()) == 1_747_426_112
    assert sum(v.numel() for k, v in official.items() if not keymaps.is_audio_key(k)) == 1_564_428_608
    assert tuple(official["blocks.29.cross_attn.k_vocal.weight"].shape) == (1536, 1536)
    assert tuple(official["vocal_projector.proj_model.proj.weight"].shape) == (1536, 768)
    assert tuple(official["vocal_projector.blocks.1.modulation"].shape) == (1, 6, 1536)
    assert tuple(official["vocal_projector.final_head.modulation"].shape) == (1, 2, 1536)
    assert transformer.DiTConfig.from_official(official) == transformer.STABLE_AVATAR_1_3B


def test_full_size_side_models_shapes():
    with torch.device("meta"):
        t5 = text.build(text.UMT5_XXL)
        tower = image.VisionTower(image.VIT_H_14)
    t5_params = sum(v.numel() for k, v in t5.state_dict().items() if k != "encoder.embed_tokens.weight")
    assert 5.6e9 < t5_params < 5.8e9
    assert 6.3e8 < sum(p.numel() for p in tower.parameters()) < 6.35e8    # open-clip ViT-H/14: 632 M
    official = keymaps.UMT5.official_state_dict({k: v for k, v in t5.state_dict().items()
                                                if k != "encoder.embed_tokens.weight"})
    assert text.T5Config.from_official(official) == text.UMT5_XXL
    assert "blocks.23.pos_embedding.embedding.weight" in official and "blocks.0.ffn.gate.0.weight" in official
    clip = {f"visual.{k}": v for k, v in tower.state_dict().items()}
    assert image.VisionConfig.from_official(clip) == image.VIT_H_14


def test_tiny_files_load_strictly(avatar_checkpoints):
    from core.engines.avatar import weights as w

    root = avatar_checkpoints
    dit = transformer.load(root / w.DIT, root / w.FUN_DIT)
    file = torch.load(root / w.DIT, weights_only=True)
    assert torch.equal(dit.blocks[1].attn2.to_k_vocal.weight, file["blocks.1.cross_attn.k_vocal.weight"])
    assert torch.equal(dit.blocks[0].norm2.weight, file["blocks.0.norm3.weight"])
    assert torch.equal(dit.vocal_projector.blocks[0].ffn[2].bias, file["vocal_projector.blocks.0.ffn.2.bias"])
    decoder = vae.load(root / w.VAE)
    vae_file = torch.load(root / w.VAE, weights_only=True)
    assert torch.equal(decoder.decoder.up_blocks[1].resnets[0].conv_shortcut.weight,
                       vae_file["decoder.upsamples.4.shortcut.weight"])
    assert torch.equal(decoder.decoder.up_blocks[2].upsamplers[0].resample[1].weight,
                       vae_file["decoder.upsamples.11.resample.1.weight"])
    t5 = text.load(root / w.T5)
    t5_file = torch.load(root / w.T5, weights_only=True)
    assert torch.equal(t5.encoder.block[1].layer[1].DenseReluDense.wi_0.weight, t5_file["blocks.1.ffn.gate.0.weight"])
    assert torch.equal(t5.encoder.embed_tokens.weight, t5_file["token_embedding.weight"])
    tower = image.load(root / w.CLIP)
    assert tower.config.dim == dit.avatar_config.image_dim
    wav = audio.Wav2Vec.load(root / w.WAV2VEC)
    assert wav.model.config.hidden_size == dit.avatar_config.audio_dim


def test_strict_loading_refuses_wrong_files(avatar_checkpoints, tmp_path):
    from core.engines.avatar import weights as w

    good = torch.load(avatar_checkpoints / w.VAE, weights_only=True)
    for name, bad in [("extra", dict(good, **{"decoder.extra.weight": torch.zeros(1)})),
                      ("missing", {k: v for k, v in good.items() if k != "conv2.bias"}),
                      ("shape", dict(good, **{"conv2.bias": torch.zeros(3)}))]:
        torch.save(bad, tmp_path / f"{name}.pth")
        with pytest.raises(BadInputError):
            vae.load(tmp_path / f"{name}.pth")


def test_dit_base_keys_fall_back_to_fun_file(avatar_checkpoints, tmp_path):
    from core.engines.avatar import weights as w

    full = torch.load(avatar_checkpoints / w.DIT, weights_only=True)
    partial = {k: v for k, v in full.items() if not k.startswith("img_emb.")}
    torch.save({"state_dict": partial}, tmp_path / "partial.pt")
    model = transformer.load(tmp_path / "partial.pt", avatar_checkpoints / w.FUN_DIT)
    from safetensors.torch import load_file

    fun = load_file(avatar_checkpoints / w.FUN_DIT)
    assert torch.equal(model.condition_embedder.image_embedder.norm1.weight, fun["img_emb.proj.0.weight"])
    assert torch.equal(model.blocks[0].attn1.to_q.weight, full["blocks.0.self_attn.q.weight"])
    torch.save({k: v for k, v in full.items() if k != "vocal_projector.final_head.modulation"},
               tmp_path / "no_audio.pt")
    with pytest.raises(BadInputError):
        transformer.load(tmp_path / "no_audio.pt", avatar_checkpoints / w.FUN_DIT)


def _inputs(frames=3, batch=3, tokens=40):
    torch.manual_seed(1)
    cfg = transformer.TINY
    return dict(latents=torch.randn(batch, 16, frames, 4, 4), cond=torch.randn(batch, 20, frames, 4, 4),
                timestep=torch.full((batch,), 700.0), text=torch.randn(batch, 512, cfg.text_dim),
                image=torch.randn(batch, 5, cfg.image_dim), audio=torch.randn(1, tokens, cfg.audio_dim),
                audio_ranges=audio.token_ranges(tokens, frames))


def test_zero_vocal_projections_equal_diffusers_wan():
    """With to_k/v_vocal zeroed the audio adds nothing, so the output must be diffusers' Wan I2V forward."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    ours = transformer.AvatarTransformer(transformer.TINY).eval()
    for block in ours.blocks:
        for linear in (block.attn2.to_k_vocal, block.attn2.to_v_vocal):
            torch.nn.init.zeros_(linear.weight), torch.nn.init.zeros_(linear.bias)
    wan = WanTransformer3DModel(**transformer.TINY.wan_kwargs()).eval()
    wan.load_state_dict({k: v for k, v in ours.state_dict().items()
                         if "vocal" not in k})
    x = _inputs(batch=2)
    with torch.no_grad():
        got = ours(**x)
        want = wan(torch.cat([x["latents"], x["cond"]], 1), x["timestep"], x["text"], x["image"]).sample
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_audio_changes_velocity_and_null_rows_ignore_it():
    torch.manual_seed(0)
    model = transformer.AvatarTransformer(transformer.TINY).eval()
    x = _inputs()
    with torch.no_grad():
        a = model(**x, null_audio_rows=1)
        b = model(**dict(x, audio=torch.randn_like(x["audio"])), null_audio_rows=1)
    assert torch.equal(a[0], b[0])                      # null audio row: zeros at the projector output
    assert (a[1] - b[1]).abs().max() > 1e-4             # audio rows follow the audio
    torch.testing.assert_close(a[1], a[2] - a[2] + a[1])
    assert a.shape == x["latents"].shape


def test_frame_attention_is_local_to_each_latent_frame():
    q = torch.randn(2, 3 * 4, 2, 8)
    k, v = torch.randn(2, 3 * 5, 2, 8), torch.randn(2, 3 * 5, 2, 8)
    base = transformer._frame_attention(q, k, v, 3)
    k2 = k.clone()
    k2[:, 5:10] = torch.randn_like(k2[:, 5:10])         # only frame 1's audio tokens change (a shift common to
    #                                                     a frame's keys would leave its softmax unchanged)
    moved = transformer._frame_attention(q, k2, v, 3)
    assert torch.equal(base[:, :4], moved[:, :4]) and torch.equal(base[:, 8:], moved[:, 8:])
    assert not torch.allclose(base[:, 4:8], moved[:, 4:8])


def test_projector_zero_fills_outside_ranges_at_the_end():
    tokens = torch.arange(1, 7, dtype=torch.float32).view(1, 6, 1)
    assert transformer._take(tokens, -3, 2).flatten().tolist() == [1, 2, 0, 0, 0]
    assert transformer._take(tokens, 4, 9).flatten().tolist() == [5, 6, 0, 0, 0]
    assert transformer._take(tokens, 7, 9).flatten().tolist() == [0, 0]


def test_clip_tower_matches_transformers_clip_penultimate():
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    tower = image.VisionTower(image.TINY).eval()
    for p in tower.parameters():
        torch.nn.init.normal_(p, std=0.2)
    cfg = image.TINY
    hf = CLIPVisionModel(CLIPVisionConfig(hidden_size=cfg.dim, intermediate_size=cfg.mlp_dim,
                                          num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads,
                                          image_size=cfg.image_size, patch_size=cfg.patch_size,
                                          hidden_act="gelu", layer_norm_eps=cfg.eps)).eval()
    sd = {"embeddings.class_embedding": tower.cls_embedding.flatten(),
          "embeddings.patch_embedding.weight": tower.patch_embedding.weight,
          "embeddings.position_embedding.weight": tower.pos_embedding[0],
          "pre_layrnorm.weight": tower.pre_norm.weight, "pre_layrnorm.bias": tower.pre_norm.bias,
          "post_layernorm.weight": tower.post_norm.weight, "post_layernorm.bias": tower.post_norm.bias}
    for n, block in enumerate(tower.transformer):
        p = f"encoder.layers.{n}."
        for name, t in zip("qkv", block.attn.to_qkv.weight.chunk(3)):
            sd[p + f"self_attn.{name}_proj.weight"] = t
        for name, t in zip("qkv", block.attn.to_qkv.bias.chunk(3)):
            sd[p + f"self_attn.{name}_proj.bias"] = t
        sd.update({p + "self_attn.out_proj.weight": block.attn.proj.weight,
                   p + "self_attn.out_proj.bias": block.attn.proj.bias,
                   p + "layer_norm1.weight": block.norm1.weight, p + "layer_norm1.bias": block.norm1.bias,
                   p + "layer_norm2.weight": block.norm2.weight, p + "layer_norm2.bias": block.norm2.bias,
                   p + "mlp.fc1.weight": block.mlp[0].weight, p + "mlp.fc1.bias": block.mlp[0].bias,
                   p + "mlp.fc2.weight": block.mlp[2].weight, p + "mlp.fc2.bias": block.mlp[2].bias})
    hf.load_state_dict(sd)
    pixels = torch.randn(1, 3, 28, 28)
    with torch.no_grad():
        want = hf(pixel_values=pixels, output_hidden_states=True).hidden_states[-2]
        got = tower(pixels)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_clip_input_is_a_stretch_without_crop():
    tower = image.VisionTower(image.TINY).eval()
    seen = {}
    tower.register_forward_pre_hook(lambda module, args: seen.setdefault("x", args[0]))
    frame = torch.zeros(3, 40, 80)
    frame[:, :, :8] = 1.0                                # a white band on the far left edge
    image.clip_tokens(tower, frame)
    x = seen["x"]
    assert x.shape == (1, 3, 28, 28)
    white = (1 - torch.tensor(image.CLIP_MEAN)) / torch.tensor(image.CLIP_STD)
    assert torch.allclose(x[0, :, 14, 0], white, atol=0.05)   # a centre crop would have cut it off


def test_text_is_512_tokens_zero_past_the_prompt(avatar_checkpoints):
    from core.engines.avatar import weights as w

    tokenizer = text.load_tokenizer(avatar_checkpoints / w.TOKENIZER)
    model = text.load(avatar_checkpoints / w.T5)
    out = text.encode(tokenizer, model, ["a person talking", "hi"], torch.device("cpu"))
    assert out.shape == (2, 512, model.config.d_model)
    n = len(tokenizer("hi").input_ids)
    assert out[1, :n].abs().sum() > 0 and out[1, n:].abs().sum() == 0


def test_fp8_storage_keeps_names_halves_bytes_and_stays_close():
    from core.wan import fp8

    torch.manual_seed(0)
    model = transformer.AvatarTransformer(transformer.TINY).eval()
    x = _inputs()
    with torch.no_grad():
        want = model(**x, null_audio_rows=1)
    names = set(model.state_dict())
    before = sum(p.numel() * p.element_size() for p in model.blocks.parameters())
    fp8.to_fp8_storage(model)
    assert set(model.state_dict()) == names
    assert model.blocks[0].attn2.to_k_vocal.weight.dtype == fp8.FP8
    assert model.blocks[0].scale_shift_table.dtype == torch.float32
    after = sum(p.numel() * p.element_size() for p in model.blocks.parameters())
    assert after < 0.3 * before                      # fp32 -> fp8 for the blocks' Linear weights
    with torch.no_grad():
        got = model(**x, null_audio_rows=1)
    assert ((got - want).norm() / want.norm()) < 0.1


def test_full_size_vae_map_gives_wan_vae_names_and_shapes():
    with torch.device("meta"):
        model = vae.build(vae.WAN_2_1)
    official = keymaps.vae_map().official_state_dict(model.state_dict())
    assert len(official) == 194 and {keymaps.vae_map().to_ours(k) for k in official} == set(model.state_dict())
    shapes = {"encoder.conv1.weight": (96, 3, 3, 3, 3), "conv1.weight": (32, 32, 1, 1, 1),
              "conv2.weight": (16, 16, 1, 1, 1), "decoder.head.2.weight": (3, 96, 3, 3, 3),
              "decoder.upsamples.0.residual.0.gamma": (384, 1, 1, 1),
              "decoder.upsamples.3.resample.1.weight": (192, 384, 3, 3),
              "decoder.upsamples.3.time_conv.weight": (768, 384, 3, 1, 1),
              "decoder.upsamples.4.shortcut.weight": (384, 192, 1, 1, 1),
              "decoder.upsamples.14.residual.6.weight": (96, 96, 3, 3, 3),
              "decoder.middle.1.to_qkv.weight": (1152, 384, 1, 1),
              "encoder.downsamples.8.time_conv.weight": (384, 384, 3, 1, 1)}
    assert {k: tuple(official[k].shape) for k in shapes} == shapes
    assert vae.VAEConfig.from_official(official) == vae.WAN_2_1
    assert 1.26e8 < sum(v.numel() for v in official.values()) < 1.28e8
