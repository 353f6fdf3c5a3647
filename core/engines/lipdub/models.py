"""Strict loaders for every network the lip-dub engine runs, all through the shared model cache.

Each loader builds the real class from the official config, reads tensors with the safe loader and calls
``load_state_dict(strict=True)``: a missing or unexpected key is a corrupt or wrong file, reported in one line.
Factories build on the CPU; the cache then places each network on ``device`` as the job's memory profile says
(``placement``: ``ctx.placement``, see ``core.cache``).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from core.cache import default_cache
from core.errors import BadInputError
from core.weights import load_state_dict, load_strict

from . import weights as W

VAE_SCALE = 0.18215  # sd-vae-ft-mse's config has no scaling_factor; diffusers' default applies (as in MuseTalk)


def _key(name: str, path: Path, device, dtype) -> tuple:
    stat = path.stat()
    return (f"lipdub.{name}", str(device), str(dtype), str(path), stat.st_mtime_ns, stat.st_size)


def _finish(module: torch.nn.Module, device, dtype) -> torch.nn.Module:
    """Precision, eval mode, no grads, channels-last for CUDA; the cache moves it to ``device``."""
    quiet = logging.getLogger("diffusers.models.modeling_utils")  # its "keep in float32: []" notice is noise here
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        module = module.to(dtype=dtype).eval().requires_grad_(False)
    finally:
        quiet.setLevel(level)
    if device.type == "cuda":
        module = module.to(memory_format=torch.channels_last)
    return module


def unet_paths(root: Path, version: str) -> tuple[Path, Path]:
    cfg, weights = W.UNET_V15 if version == "v15" else W.UNET_V1
    return root / cfg, root / weights


def load_unet(root: Path, version: str, device, dtype, placement: str = "resident"):
    from diffusers import UNet2DConditionModel

    cfg_path, path = unet_paths(root, version)

    def build():
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
        unet = UNet2DConditionModel.from_config(config)
        load_strict(unet, load_state_dict(path), path)
        return _finish(unet, device, dtype)

    return default_cache().get(_key(f"unet-{version}", path, device, dtype), build, placement, device)


def _weights_file(folder: Path, stem: str, legacy_stem: str | None = None) -> Path:
    """The safetensors file of a Hugging Face folder, or its older .bin twin when only that was downloaded."""
    path = folder / f"{stem}.safetensors"
    legacy = folder / f"{legacy_stem or stem}.bin"
    return legacy if not path.is_file() and legacy.is_file() else path


def load_vae(root: Path, device, dtype, placement: str = "resident"):
    from diffusers import AutoencoderKL

    folder = root / W.VAE_DIR
    path = _weights_file(folder, "diffusion_pytorch_model")

    def build():
        vae = AutoencoderKL.from_config(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        load_strict(vae, W._legacy_vae_keys(load_state_dict(path)), path)
        return _finish(vae, device, dtype)

    return default_cache().get(_key("vae", path, device, dtype), build, placement, device)


def load_whisper_encoder(root: Path, device, dtype, placement: str = "resident"):
    """whisper-tiny's encoder only; decoder keys in the file are expected and skipped, anything else fails."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    folder = root / W.WHISPER_DIR
    path = _weights_file(folder, "model", "pytorch_model")

    def build():
        config = WhisperConfig.from_json_file(str(folder / "config.json"))
        config._attn_implementation = "sdpa"
        encoder = WhisperEncoder(config)
        state, other = {}, []
        for key, value in load_state_dict(path).items():
            bare = key.removeprefix("model.")
            if bare.startswith("encoder."):
                state[bare[len("encoder."):]] = value
            elif not bare.startswith(("decoder.", "proj_out.")):
                other.append(key)
        if other:
            raise BadInputError(f"{path} does not match whisper: unexpected key(s) {other[:2]}")
        load_strict(encoder, state, path)
        return encoder.to(dtype=dtype).eval().requires_grad_(False)

    return default_cache().get(_key("whisper", path, device, dtype), build, placement, device)


def load_feature_extractor(root: Path):
    from transformers import WhisperFeatureExtractor

    folder = root / W.WHISPER_DIR
    return default_cache().get(("lipdub.whisper-features", str(folder)),
                               lambda: WhisperFeatureExtractor.from_pretrained(str(folder)))


def load_parser(root: Path, device, dtype, placement: str = "resident"):
    from core.engines.lipdub.face.bisenet import BiSeNet

    path = root / W.PARSER

    def build():
        state = load_state_dict(path)
        stem = state.get("cp.resnet.bn1.weight", state.get("cp.resnet.conv1.weight"))
        width = int(stem.shape[0]) if stem is not None else 64  # 64 = the official net; tests use a narrow one
        net = BiSeNet(19, width=width)
        load_strict(net, state, path)
        return _finish(net, device, dtype)

    return default_cache().get(_key("parser", path, device, dtype), build, placement, device)


def load_detector(root: Path, device, placement: str = "resident"):
    from facexlib.detection.retinaface import RetinaFace

    path = root / W.DETECTOR

    def build():
        net = RetinaFace(network_name="mobile0.25", device=device)
        state = {k.removeprefix("module."): v for k, v in load_state_dict(path).items()}
        load_strict(net, state, path)
        return net.eval().requires_grad_(False)

    return default_cache().get(_key("detector", path, device, torch.float32), build, placement, device)


def load_landmarker(root: Path, device, placement: str = "resident"):
    from facexlib.alignment.awing_arch import FAN

    path = root / W.LANDMARKS

    def build():
        net = FAN(num_modules=4, num_landmarks=98, device=device)
        raw = load_state_dict(path)
        load_strict(net, raw.get("state_dict", raw), path)
        return net.float().eval().requires_grad_(False)

    return default_cache().get(_key("landmarks", path, device, torch.float32), build, placement, device)
