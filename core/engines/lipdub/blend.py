"""Paste generated mouths back (MuseTalk ``blending.get_image``) on the engine's device, one frame at a time.

Reference steps: an expanded square ``crop`` around the face box (``get_crop_box``, expand 1.5) is parsed; the 512x512
mode mask is resized to the crop (2s x 2s, bicubic), kept only inside the face box and below the crop's middle row
``s``, then Gaussian-blurred with ``k = int(0.05 * 2s // 2 * 2) + 1``; the frame is alpha-blended with the crop in
which the resized face was pasted at the box. Outside the face box that crop equals the frame, so only box pixels
can change: we compute the mask over the box (zeros around it, as in the reference) and blend there alone.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

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


def gaussian_kernel(k: int, device) -> torch.Tensor:
    """OpenCV's kernel for sigma 0: sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8."""
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
    x = torch.arange(k, dtype=torch.float64) - (k - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return (g / g.sum()).float().to(device)


def crop_padded(frame: torch.Tensor, box) -> torch.Tensor:
    """[3, y2-y1, x2-x1] crop of a [3, H, W] frame; outside the frame reads black (PIL ``Image.crop``)."""
    x1, y1, x2, y2 = box
    h, w = frame.shape[1:]
    out = frame.new_zeros((frame.shape[0], y2 - y1, x2 - x1))
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if sx2 > sx1 and sy2 > sy1:
        out[:, sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = frame[:, sy1:sy2, sx1:sx2]
    return out


def box_alpha(mask512: torch.Tensor, box, blur_factor: float = BLUR_FACTOR) -> torch.Tensor:
    """Blend weights 0..1 over the face box [h, w] from a 0/255 [512, 512] mode mask."""
    x, y, x1, y1 = box
    (xs, ys, _, _), s = crop_box(box)
    big = F.interpolate(mask512[None, None].float(), size=(2 * s, 2 * s), mode="bicubic", antialias=True,
                        align_corners=False)  # PIL's default resize: bicubic, antialiased when shrinking
    big = big.clamp(0, 255).round()[0, 0]
    m = big[y - ys:y1 - ys, x - xs:x1 - xs].clone()
    cut = s - (y - ys)  # rows of the box above the crop's middle row
    if cut > 0:
        m[:cut] = 0
    k = blur_kernel_size(s, blur_factor)
    if k > 1:
        g = gaussian_kernel(k, m.device)
        p = k // 2
        m = F.pad(m[None, None], (p, p, p, p))
        m = F.conv2d(m, g.view(1, 1, 1, k))
        m = F.conv2d(m, g.view(1, 1, k, 1))[0, 0]
    return (m.round() / 255.0).clamp(0, 1)


def blend_region(region: torch.Tensor, face: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The face box's new pixels: the [3, 256, 256] face (0..255) resized to the [3, h, w] region and alpha-blended."""
    h, w = region.shape[1:]
    resized = F.interpolate(face[None].float(), size=(h, w), mode="bilinear", align_corners=False)[0]
    resized = resized.clamp(0, 255).round()
    region = region.float()
    return (region + alpha * (resized - region)).round()


def pack_mask(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask.reshape(-1) > 127)


def unpack_mask(packed: np.ndarray, device) -> torch.Tensor:
    bits = np.unpackbits(np.asarray(packed))[: PARSE_SIZE * PARSE_SIZE]
    return torch.from_numpy(bits.reshape(PARSE_SIZE, PARSE_SIZE)).to(device) * 255
