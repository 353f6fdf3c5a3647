"""Paste generated mouths back (MuseTalk ``blending.get_image``), one frame at a time.

Reference steps: an expanded square ``crop`` around the face box (``get_crop_box``, expand 1.5) is parsed; the 512x512
mode mask is resized to the crop (2s x 2s, bicubic), kept only inside the face box and below the crop's middle row
``s``, then Gaussian-blurred with ``k = int(0.05 * 2s // 2 * 2) + 1``; the frame is alpha-blended with the crop in
which the resized face was pasted at the box. Outside the face box that crop equals the frame, so only box pixels
can change: we compute the mask over the box (zeros around it, as in the reference) and blend there alone.

The mask is made once per source frame with the reference's own calls (``frame_alpha``) and cached with the prepared
video. On the CPU the blend is the reference's integer arithmetic (``paste_face``); on a GPU it is a float blend of
the box within one grey level of it (``blend_region``).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.engines.lipdub.face.parsing import PARSE_SIZE

EXPAND = 1.5
BLUR_FACTOR = 0.05


def crop_box(box, expand: float = EXPAND) -> tuple[list[int], int]:
    """``get_crop_box``: centre by floor division, ``s = int(max(w, h) // 2 * expand)``."""
    x, y, x1, y1 = (int(v) for v in box)
    xc, yc = (x + x1) // 2, (y + y1) // 2
    s = int(max(x1 - x, y1 - y) // 2 * expand)
    return [xc - s, yc - s, xc + s, yc + s], s


def blur_kernel_size(s: int, factor: float = BLUR_FACTOR) -> int:
    return int(factor * (2 * s) // 2 * 2) + 1


def crop_padded(frame: np.ndarray, box) -> np.ndarray:
    """[y2-y1, x2-x1, 3] crop of an [H, W, 3] uint8 frame; outside the frame reads black (PIL ``Image.crop``)."""
    x1, y1, x2, y2 = box
    h, w = frame.shape[:2]
    out = np.zeros((y2 - y1, x2 - x1) + frame.shape[2:], dtype=frame.dtype)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = frame[sy1:sy2, sx1:sx2]
    return out


def frame_alpha(mask512: np.ndarray, box, blur_factor: float = BLUR_FACTOR) -> np.ndarray:
    """uint8 blend weights over the face box [h, w] from a 0/255 [512, 512] mode mask, as the reference makes them.

    PIL's BICUBIC resize of the 'L' mask to the 2s x 2s crop, kept inside the box and below row s, then
    ``cv2.GaussianBlur`` on the uint8 crop: the same integers as ``get_image``. Computed once per source frame.
    """
    x, y, x1, y1 = (int(v) for v in box)
    (xs, ys, _, _), s = crop_box(box)
    big = np.asarray(Image.fromarray(np.asarray(mask512, dtype=np.uint8)).resize((2 * s, 2 * s), Image.BICUBIC))
    inside = (slice(y - ys, y1 - ys), slice(x - xs, x1 - xs))
    m = np.zeros((2 * s, 2 * s), dtype=np.uint8)
    m[inside] = big[inside]
    m[:s] = 0  # the reference keeps the lower half of the crop only
    k = blur_kernel_size(s, blur_factor)
    return np.ascontiguousarray(cv2.GaussianBlur(m, (k, k), 0)[inside])


def box_alpha(mask512, box, blur_factor: float = BLUR_FACTOR) -> torch.Tensor:
    """``frame_alpha`` as float 0..1 on the mask's device (the preview overlay draws its edge)."""
    device = mask512.device if isinstance(mask512, torch.Tensor) else "cpu"
    plain = mask512.cpu().numpy() if isinstance(mask512, torch.Tensor) else mask512
    return torch.from_numpy(frame_alpha(plain.astype(np.uint8), box, blur_factor)).to(device).float() / 255.0


def as_alpha(mask: np.ndarray, box) -> np.ndarray:
    """A frame's uint8 blend weights: a cached ``frame_alpha`` passes through; a packed 512x512 parsing mask
    (the preview builds one frame and caches nothing) is turned into one."""
    mask = np.asarray(mask)
    return mask if mask.ndim == 2 else frame_alpha(unpacked(mask), box)


def paste_face(region: np.ndarray, face: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The face box's new uint8 pixels [h, w, 3], exactly as the reference's (CPU, single-threaded numpy + cv2).

    ``cv2.resize`` INTER_LINEAR of the uint8 [256, 256, 3] face to the box, then PIL's masked paste arithmetic:
    ``(region * (255 - a) + face * a + 128) / 255`` rounded the way PIL's DIV255 does it, in uint16.
    """
    h, w = region.shape[:2]
    resized = cv2.resize(np.ascontiguousarray(face), (w, h), interpolation=cv2.INTER_LINEAR).astype(np.uint16)
    a = alpha[..., None].astype(np.uint16)
    v = region.astype(np.uint16) * (255 - a) + resized * a + 128
    return ((v + (v >> 8)) >> 8).astype(np.uint8)


def faces_uint8(faces: torch.Tensor) -> np.ndarray:
    """[B, 256, 256, 3] uint8 from [B, 3, 256, 256] faces in 0..255 (whole numbers). On the CPU in numpy: a chain
    of small multi-threaded torch operations stalls whenever another process holds a core."""
    x = faces.detach().cpu().numpy()
    return np.ascontiguousarray(np.clip(x, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1))


def blend_region(region: torch.Tensor, face: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The face box's new pixels on a GPU: the [3, 256, 256] face (0..255) resized to the [3, h, w] region and
    alpha-blended. With ``alpha = frame_alpha / 255`` the blend rounds as PIL's does; the float bilinear resize is
    within one grey level of ``cv2.resize``'s fixed-point one, so results are within +-1 of the reference."""
    h, w = region.shape[1:]
    resized = F.interpolate(face[None].float(), size=(h, w), mode="bilinear", align_corners=False)[0]
    resized = resized.clamp(0, 255).round()
    region = region.float()
    return (region + alpha * (resized - region)).round()


def pack_mask(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask.reshape(-1) > 127)


def unpacked(packed: np.ndarray) -> np.ndarray:
    """The 0/255 uint8 [512, 512] mask of ``pack_mask``'s bits."""
    bits = np.unpackbits(np.asarray(packed))[: PARSE_SIZE * PARSE_SIZE]
    return bits.reshape(PARSE_SIZE, PARSE_SIZE) * np.uint8(255)


def unpack_mask(packed: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(unpacked(packed)).to(device)
