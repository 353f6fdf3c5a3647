"""Item 2 of issue 12: the BiSeNet input, float torch resize (before) against the reference's PIL resize.

    python tests/golden/lipdub_parse.py

The reference (``FaceParsing.__call__``) resizes the uint8 'RGB' crop with ``Image.resize((512, 512), BILINEAR)``,
then ToTensor (/255) and Normalize(ImageNet mean, std). This script builds that input for the astronaut's expanded
face crop, the input the engine used to build (float antialiased bilinear), and counts the mask pixels that differ
per parsing mode with the test checkpoints' random BiSeNet.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.engines.lipdub import blend as B
from core.engines.lipdub.face.parsing import MODES, mode_mask
from tests.samples import portrait_path

BOX = (150, 40, 330, 250)
MEAN = torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)
STD = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)


def face_crop() -> np.ndarray:
    img = np.asarray(Image.open(portrait_path()).convert("RGB"))
    return B.crop_padded(img, B.crop_box(BOX)[0])


def reference_input(crop: np.ndarray) -> torch.Tensor:
    """[1, 3, 512, 512] float as the reference feeds BiSeNet."""
    small = np.array(Image.fromarray(crop).resize((512, 512), Image.BILINEAR))
    x = torch.from_numpy(small).permute(2, 0, 1)[None].float().div(255)
    return (x - MEAN) / STD


def old_input(crop: np.ndarray) -> torch.Tensor:
    """The engine's input before the fix: a float antialiased bilinear resize of the crop."""
    t = torch.from_numpy(crop).permute(2, 0, 1)[None].float()
    x = F.interpolate(t, size=(512, 512), mode="bilinear", antialias=True, align_corners=False) / 255.0
    return (x - MEAN) / STD


def mask_flips(net, crop: np.ndarray) -> dict[str, int]:
    with torch.inference_mode():
        ref = net(reference_input(crop)).argmax(1)[0].numpy()
        old = net(old_input(crop)).argmax(1)[0].numpy()
    return {mode: int((mode_mask(ref, mode) != mode_mask(old, mode)).sum()) for mode in MODES}


if __name__ == "__main__":
    from core.engines.lipdub import models as M
    from core.engines.lipdub import weights as W

    crop = face_crop()
    diff = (reference_input(crop) - old_input(crop)).abs() * STD * 255
    print(f"input grey levels differing: {int((diff > 0.5).sum())} of {diff.numel()}, max {diff.max():.2f}")
    with tempfile.TemporaryDirectory() as root:
        W.make_test_checkpoints(Path(root))
        net = M.load_parser(Path(root), torch.device("cpu"), torch.float32)
        print("mask pixels flipped (test BiSeNet):", mask_flips(net, crop))
