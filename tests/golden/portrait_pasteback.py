"""Item 6 of issue 12: photo paste-back against LivePortrait's arithmetic (as MoDA runs it), and its cost.

    python tests/golden/portrait_pasteback.py

``reference_paste`` redoes the reference's steps with its own calls: ``parse_output`` (clip to [0, 1], *255, clip,
truncate to uint8), ``prepare_paste_back`` (the 3-channel uint8 template warped with ``cv2.warpAffine`` INTER_LINEAR
to the photo's size, /255 in float32) and ``paste_back`` (the uint8 frame warped the same way, then
``clip(mask * warped + (1 - mask) * photo, 0, 255).astype(uint8)``). The script compares our PasteBack now and as it
was at commit 1f16803 (float grid_sample, rounded) on a rotated, scaled crop of a random photo with a smooth render.
"""
from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.liveportrait.crop.geometry import crop_matrix_from_box  # noqa: E402 (after the sys.path line)
from core.liveportrait.pasteback import PasteBack, mask_template  # noqa: E402


def reference_paste(render: torch.Tensor, photo: np.ndarray, m_c2o: np.ndarray) -> np.ndarray:
    """(B, 3, 512, 512) float render in [0, 1] -> (B, H, W, 3) uint8, the reference's way."""
    crops = np.transpose(render.numpy(), (0, 2, 3, 1))
    crops = np.clip(np.clip(crops, 0, 1) * 255, 0, 255).astype(np.uint8)
    dsize = (photo.shape[1], photo.shape[0])
    template = cv2.cvtColor(mask_template(), cv2.COLOR_GRAY2BGR)
    mask = cv2.warpAffine(template, m_c2o[:2, :], dsize=dsize, flags=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    out = []
    for crop in crops:
        warped = cv2.warpAffine(crop, m_c2o[:2, :], dsize=dsize, flags=cv2.INTER_LINEAR)
        out.append(np.clip(mask * warped + (1 - mask) * photo, 0, 255).astype(np.uint8))
    return np.stack(out)


def inputs(side: int = 1024, batch: int = 2, seed: int = 0):
    """(photo, M_c2o, render): a random photo, a face crop rotated by 12 degrees, a smooth random render."""
    rng = np.random.default_rng(seed)
    photo = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    m_o2c = crop_matrix_from_box((side * 0.35, side * 0.3, side * 0.65, side * 0.6))
    turn = np.vstack([cv2.getRotationMatrix2D((256.0, 256.0), 12.0, 1.0), [0, 0, 1]])
    m_c2o = np.linalg.inv(turn @ m_o2c).astype(np.float32).astype(np.float64)  # the reference's float32 matrix
    noise = torch.from_numpy(rng.random((batch, 3, 64, 64), dtype=np.float32))
    render = torch.nn.functional.interpolate(noise, size=(512, 512), mode="bicubic", align_corners=False)
    return photo, m_c2o, render.clamp(-0.05, 1.05)


def old_pasteback():
    """The PasteBack class as it was before issue 12 (pasteback.py at 1f16803, loaded from git)."""
    code = subprocess.run(["git", "-C", str(ROOT), "show", "1f16803:core/liveportrait/pasteback.py"],
                          check=True, capture_output=True, text=True).stdout
    old = types.ModuleType("old_pasteback")
    exec(compile(code, "old_pasteback.py", "exec"), old.__dict__)  # noqa: S102  (the project's own past code)
    return old.PasteBack


def before(render: torch.Tensor, photo: np.ndarray, m_c2o: np.ndarray) -> np.ndarray:
    return old_pasteback()(photo, SimpleNamespace(M_c2o=m_c2o))(render).numpy()


def now(render: torch.Tensor, photo: np.ndarray, m_c2o: np.ndarray) -> np.ndarray:
    return PasteBack(photo, SimpleNamespace(M_c2o=m_c2o))(render).numpy()


def diff(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """(max |a - b|, share of pixel values that differ)."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(d.max()), float((d > 0).mean())


if __name__ == "__main__":
    for side in (512, 1024):
        photo, m_c2o, render = inputs(side)
        ref = reference_paste(render, photo, m_c2o)
        (bm, bs), (nm, ns) = diff(before(render, photo, m_c2o), ref), diff(now(render, photo, m_c2o), ref)
        print(f"{side}x{side}: vs reference, before max {bm} on {bs:.2%} of values; now max {nm} on {ns:.3%}")
