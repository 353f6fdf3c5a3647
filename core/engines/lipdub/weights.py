"""Weights manifest for the lip-dub engine (MuseTalk 1.5 / 1.0) and the tiny test checkpoints in the official layouts.

Layout under the checkpoints dir mirrors MuseTalk's ``models/`` folder; the face detector and landmark net come from
facexlib's GitHub releases (they are not on Hugging Face).
"""
from __future__ import annotations

import json
from pathlib import Path

from core.weights import WeightFile

_FACEXLIB = "https://github.com/xinntao/facexlib/releases/download/v0.1.0/"

UNET_V15 = ("musetalkV15/musetalk.json", "musetalkV15/unet.pth")
UNET_V1 = ("musetalk/musetalk.json", "musetalk/pytorch_model.bin")
VAE_DIR = "sd-vae"
WHISPER_DIR = "whisper"
PARSER = "face-parse-bisent/79999_iter.pth"
DETECTOR = "facexlib/detection_mobilenet0.25_Final.pth"
LANDMARKS = "facexlib/alignment_WFLW_4HG.pth"

FILES: list[WeightFile] = [
    WeightFile(UNET_V15[0], "TMElyralab/MuseTalk", UNET_V15[0], note="MuseTalk 1.5 UNet config"),
    WeightFile(UNET_V15[1], "TMElyralab/MuseTalk", UNET_V15[1], size=3_400_074_924,
               note="MuseTalk 1.5 UNet weights (~3.4 GB)"),
    WeightFile(UNET_V1[0], "TMElyralab/MuseTalk", UNET_V1[0], note="MuseTalk 1.0 UNet config"),
    WeightFile(UNET_V1[1], "TMElyralab/MuseTalk", UNET_V1[1], note="MuseTalk 1.0 UNet weights (~3.4 GB)"),
    WeightFile(f"{VAE_DIR}/config.json", "stabilityai/sd-vae-ft-mse", "config.json"),
    WeightFile(f"{VAE_DIR}/diffusion_pytorch_model.safetensors", "stabilityai/sd-vae-ft-mse",
               "diffusion_pytorch_model.safetensors", note="SD VAE ft-MSE (~335 MB)"),
    WeightFile(f"{WHISPER_DIR}/config.json", "openai/whisper-tiny", "config.json"),
    WeightFile(f"{WHISPER_DIR}/preprocessor_config.json", "openai/whisper-tiny", "preprocessor_config.json"),
    WeightFile(f"{WHISPER_DIR}/model.safetensors", "openai/whisper-tiny", "model.safetensors",
               note="whisper-tiny (~150 MB); only the encoder is loaded"),
    WeightFile(PARSER, "ManyOtherFunctions/face-parse-bisent", "79999_iter.pth", size=53_289_463,
               note="BiSeNet face parsing, 19 classes (~53 MB); holds its ResNet-18 backbone too"),
    WeightFile(DETECTOR, url=_FACEXLIB + "detection_mobilenet0.25_Final.pth",
               note="facexlib RetinaFace (MobileNet-0.25) face detector"),
    WeightFile(LANDMARKS, url=_FACEXLIB + "alignment_WFLW_4HG.pth",
               note="facexlib AWing FAN, 98 WFLW landmarks, mapped to the 68 iBUG points"),
]

# Kwargs of the official musetalk.json (SD-1.x UNet with 8 input channels and whisper-tiny's 384-dim cross-attention).
OFFICIAL_UNET_CONFIG = {
    "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0.dev0", "act_fn": "silu",
    "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 8, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
OFFICIAL_VAE_CONFIG = {
    "_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2,
    "norm_num_groups": 32, "out_channels": 3, "sample_size": 256, "up_block_types": ["UpDecoderBlock2D"] * 4,
}

# Pre-0.14 diffusers attention names, as stored in older VAE checkpoints; the loader renames them.
LEGACY_VAE_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def tiny_unet_config() -> dict:
    """Same keys and block structure as the official JSON, with small widths (cross-attention stays 384)."""
    return {**OFFICIAL_UNET_CONFIG, "attention_head_dim": 1, "block_out_channels": [16, 16, 32, 32],
            "layers_per_block": 1, "norm_num_groups": 8}


def tiny_vae_config() -> dict:
    return {**OFFICIAL_VAE_CONFIG, "block_out_channels": [8, 8, 16, 16], "layers_per_block": 1, "norm_num_groups": 4}


def tiny_whisper_config():
    """whisper-tiny's shapes where the engine depends on them (d_model 384, 4 encoder layers, 1500 positions)."""
    from transformers import WhisperConfig

    return WhisperConfig(vocab_size=128, num_mel_bins=80, d_model=384, encoder_layers=4, encoder_attention_heads=2,
                         encoder_ffn_dim=64, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64,
                         max_source_positions=1500, max_target_positions=32, decoder_start_token_id=1,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2,
                         architectures=["WhisperForConditionalGeneration"])


def _legacy_vae_keys(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if "attentions" in parts and parts[-2] in LEGACY_VAE_ATTENTION:
            key = ".".join(parts[:-2] + [LEGACY_VAE_ATTENTION[parts[-2]], parts[-1]])
        out[key] = value
    return out


def make_test_checkpoints(root: Path) -> None:
    """Tiny random models of the real classes, saved under the official names, formats and key layouts."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    from core.engines.lipdub.face.bisenet import BiSeNet

    root = Path(root)
    torch.manual_seed(0)
    for cfg_name, weights_name in (UNET_V15, UNET_V1):
        (root / cfg_name).parent.mkdir(parents=True, exist_ok=True)
        cfg = tiny_unet_config()
        (root / cfg_name).write_text(json.dumps(cfg, indent=2), encoding="utf-8")
        unet = UNet2DConditionModel.from_config(cfg)
        torch.save(unet.state_dict(), root / weights_name)

    vae_dir = root / VAE_DIR
    vae_dir.mkdir(parents=True, exist_ok=True)
    vae_cfg = tiny_vae_config()
    (vae_dir / "config.json").write_text(json.dumps(vae_cfg, indent=2), encoding="utf-8")
    vae = AutoencoderKL.from_config(vae_cfg)
    inverse = {v: k for k, v in LEGACY_VAE_ATTENTION.items()}
    state = {}
    for key, value in vae.state_dict().items():  # sd-vae-ft-mse still stores the legacy attention names
        for new, old in inverse.items():
            key = key.replace(f".{new}.", f".{old}.")
        state[key] = value.contiguous()
    save_file(state, str(vae_dir / "diffusion_pytorch_model.safetensors"))

    whisper_dir = root / WHISPER_DIR
    WhisperForConditionalGeneration(tiny_whisper_config()).save_pretrained(whisper_dir)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(whisper_dir)

    (root / PARSER).parent.mkdir(parents=True, exist_ok=True)
    parser = BiSeNet(19, width=4)
    with torch.no_grad():  # classifier tilted towards class 1 (skin) on its non-negative ReLU features, so test
        head = parser.conv_out.conv_out.weight  # runs get a visible blend mask instead of an empty one
        head.copy_(-head.abs())
        head[1] = head[1].abs() + 0.1
    torch.save(parser.state_dict(), root / PARSER)

    from facexlib.alignment.awing_arch import FAN
    from facexlib.detection.retinaface import RetinaFace

    (root / DETECTOR).parent.mkdir(parents=True, exist_ok=True)
    detector = RetinaFace(network_name="mobile0.25", device="cpu")
    torch.save({f"module.{k}": v for k, v in detector.state_dict().items()}, root / DETECTOR)
    # facexlib's FAN has fixed widths (~24M parameters); stored in fp16 to halve the file, same keys.
    fan = FAN(num_modules=4, num_landmarks=98, device="cpu")
    torch.save({"state_dict": {k: v.half() if v.is_floating_point() else v for k, v in fan.state_dict().items()}},
               root / LANDMARKS)
