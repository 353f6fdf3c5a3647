"""Item 4 of issue 12: VAE encode precision by memory format, and decode scaling (divide vs multiply).

    python tests/golden/lipdub_vae.py [--official]   # --official: the full-size sd-vae-ft-mse structure

Prints the largest posterior-mean error against a float64 encode for the input as the engine used to pass it
(channels-last strides from the HWC uint8 stack) and as contiguous NCHW, and how many uint8 roundings of the decoded
faces flip between ``latents / 0.18215`` and the reference's ``latents * (1 / 0.18215)``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.engines.lipdub import weights as W
from core.engines.lipdub.models import VAE_SCALE
from tests.samples import portrait_path

BOX = (150, 40, 330, 250)  # the astronaut's face


def random_vae(official: bool = False):
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL.from_config(W.OFFICIAL_VAE_CONFIG if official else W.tiny_vae_config()).eval()


def masked_crop_nhwc() -> torch.Tensor:
    """The astronaut's face crop prepared as ``vae_inputs`` did before the fix: an NCHW view of HWC memory."""
    import cv2
    from PIL import Image

    img = np.asarray(Image.open(portrait_path()).convert("RGB"))
    x1, y1, x2, y2 = BOX
    crop = cv2.resize(img[y1:y2, x1:x2], (256, 256), interpolation=cv2.INTER_LANCZOS4)
    x = torch.from_numpy(crop[None]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    x[:, :, 128:] = -1.0
    return x


@torch.inference_mode()
def encode_errors(vae, x: torch.Tensor) -> tuple[float, float]:
    """(max error as passed, max error contiguous) of the posterior mean against a float64 encode."""
    truth = vae.double().encode(x.double().contiguous()).latent_dist.mean
    vae.float()
    as_passed = vae.encode(x).latent_dist.mean.double()
    contiguous = vae.encode(x.contiguous()).latent_dist.mean.double()
    return (as_passed - truth).abs().max().item(), (contiguous - truth).abs().max().item()


@torch.inference_mode()
def decode_flips(vae, batches: int = 4) -> tuple[int, int]:
    """uint8 roundings that differ between dividing and multiplying by the inverse scale."""
    flips = total = 0
    for seed in range(batches):
        pred = torch.randn(8, 4, 32, 32, generator=torch.Generator().manual_seed(seed))
        a = ((vae.decode(pred / VAE_SCALE).sample / 2 + 0.5).clamp(0, 1) * 255).round()
        b = ((vae.decode(pred * (1 / VAE_SCALE)).sample / 2 + 0.5).clamp(0, 1) * 255).round()
        flips += int((a != b).sum())
        total += a.numel()
    return flips, total


if __name__ == "__main__":
    vae = random_vae("--official" in sys.argv)
    passed, contiguous = encode_errors(vae, masked_crop_nhwc())
    print(f"posterior mean vs fp64: channels-last input {passed:.2e}, contiguous NCHW {contiguous:.2e}")
    flips, total = decode_flips(vae)
    print(f"decode: {flips} of {total} roundings flip between /scale and *(1/scale)")
