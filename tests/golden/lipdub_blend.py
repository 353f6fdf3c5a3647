"""Item 3 of issue 12: the lip-dub blend against MuseTalk's ``get_image`` arithmetic, and its cost per frame.

    python tests/golden/lipdub_blend.py

``reference_blend`` redoes the reference's steps with its own library calls on RGB arrays: ``cv2.resize`` of the
uint8 face to the box (INTER_LINEAR), PIL crop of the expanded square (black outside the frame), the 512 mask
resized with PIL's BICUBIC, kept in the box and below row s, ``cv2.GaussianBlur`` on uint8, the face pasted into the
crop and the crop pasted into the frame through the mask (PIL's integer blend). The script compares the engine's
CPU path, its GPU-style float path (run on the CPU) and the engine as it was at commit 1f16803 (torch bicubic +
float Gaussian mask, torch bilinear face) on the astronaut with a random face and a jaw-like mask.
"""
from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.engines.lipdub import blend as B  # noqa: E402 (after the sys.path line: run as a script)
from tests.samples import portrait_path  # noqa: E402

BOXES = [(150, 40, 330, 250), (160, 60, 311, 233), (5, 300, 160, 512)]  # the last reaches the frame's edge


def reference_blend(frame: np.ndarray, face: np.ndarray, box, mask512: np.ndarray, blur: float = 0.05) -> np.ndarray:
    """The frame after ``get_image`` (RGB in, RGB out; the reference works in BGR, channel-wise the same)."""
    x, y, x1, y1 = box
    face = cv2.resize(face, (x1 - x, y1 - y))
    body = Image.fromarray(frame)
    (xs, ys, xe, ye), _ = B.crop_box(box)
    face_large = body.crop((xs, ys, xe, ye))
    size = face_large.size
    mask = Image.fromarray(mask512).resize(size, Image.BICUBIC)
    small = mask.crop((x - xs, y - ys, x1 - xs, y1 - ys))
    mask = Image.new("L", size, 0)
    mask.paste(small, (x - xs, y - ys, x1 - xs, y1 - ys))
    top = int(size[1] * 0.5)
    lower = Image.new("L", size, 0)
    lower.paste(mask.crop((0, top, size[0], size[1])), (0, top))
    k = int(blur * size[0] // 2 * 2) + 1
    alpha = Image.fromarray(cv2.GaussianBlur(np.array(lower), (k, k), 0))
    face_large.paste(Image.fromarray(face), (x - xs, y - ys, x1 - xs, y1 - ys))
    body.paste(face_large, (xs, ys), alpha)
    return np.array(body)


def inputs(seed: int = 0):
    """(frame, face, mask512): the astronaut, a smooth random face, an ellipse mask like a parsed lower face."""
    rng = np.random.default_rng(seed)
    frame = np.array(Image.open(portrait_path()).convert("RGB"))
    face = cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), (5, 5), 1.5)
    mask = np.zeros((512, 512), np.uint8)
    cv2.ellipse(mask, (256, 300), (150, 190), 0, 0, 360, 255, -1)
    return frame, face, mask


def engine_cpu(frame, face, box, mask) -> np.ndarray:
    out = frame.copy()
    x, y, x1, y1 = box
    out[y:y1, x:x1] = B.paste_face(out[y:y1, x:x1], face, B.frame_alpha(mask, box))
    return out


def engine_float(frame, face, box, mask) -> np.ndarray:
    """The GPU path's arithmetic (``blend_region``), run on the CPU."""
    out = frame.copy()
    x, y, x1, y1 = box
    region = torch.from_numpy(out[y:y1, x:x1]).permute(2, 0, 1)
    alpha = torch.from_numpy(B.frame_alpha(mask, box)).float() / 255
    new = B.blend_region(region, torch.from_numpy(face).permute(2, 0, 1).float(), alpha)
    out[y:y1, x:x1] = new.clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return out


def old_blend():
    """blend.py as it was before issue 12 (at 1f16803, loaded from git)."""
    code = subprocess.run(["git", "-C", str(ROOT), "show", "1f16803:core/engines/lipdub/blend.py"],
                          check=True, capture_output=True, text=True).stdout
    old = types.ModuleType("old_blend")
    exec(compile(code, "old_blend.py", "exec"), old.__dict__)  # noqa: S102  (the project's own past code)
    return old


def engine_before(frame, face, box, mask, old=None) -> np.ndarray:
    """The blend as it was before issue 12: mask resize + blur and the float blend, per output frame."""
    old = old or old_blend()
    out = frame.copy()
    x, y, x1, y1 = box
    region = torch.from_numpy(out[y:y1, x:x1]).permute(2, 0, 1)
    alpha = old.box_alpha(torch.from_numpy(mask), box)
    new = old.blend_region(region, torch.from_numpy(face).permute(2, 0, 1).float(), alpha)
    out[y:y1, x:x1] = new.clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return out


def reference_realtime(frame, face, box, alpha_crop: np.ndarray, crop) -> np.ndarray:
    """The reference's cached-mask path (``get_image_blending``): cv2.resize of the face, a copy of the crop with
    the face in it, ``cv2.blendLinear`` with the float mask. ``alpha_crop`` is the uint8 mask over ``crop``."""
    x, y, x1, y1 = box
    xs, ys, xe, ye = crop
    face = cv2.resize(face, (x1 - x, y1 - y))
    large = frame[ys:ye, xs:xe].copy()
    large[y - ys:y1 - ys, x - xs:x1 - xs] = face
    w = (alpha_crop / 255).astype(np.float32)
    frame[ys:ye, xs:xe] = cv2.blendLinear(large, frame[ys:ye, xs:xe], w, 1 - w)
    return frame


def max_diff(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(d.max()), int((d > 0).sum())


if __name__ == "__main__":
    frame, face, mask = inputs()
    for box in BOXES:
        ref = reference_blend(frame, face, box, mask)
        print(box, "max |diff| / pixels differing vs reference:",
              "before", max_diff(engine_before(frame, face, box, mask), ref),
              "cpu", max_diff(engine_cpu(frame, face, box, mask), ref),
              "gpu-style", max_diff(engine_float(frame, face, box, mask), ref))
