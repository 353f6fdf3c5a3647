"""Paste animated 512 crops back into the full-resolution photo with a feathered mask, on the GPU when present.

The mask is LivePortrait's template (255 inside, a 16-pixel linear ramp to 0 at the crop border, corners rounded
with the same radius), generated here rather than shipped. It is warped into the photo once; each batch of frames
is then warped with grid_sample over the crop's bounding box only, and blended there. Pixels outside the crop's
footprint, and wherever the mask is 0, are the photo's own bytes.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def mask_template(size: int = 512, ramp: int = 16) -> np.ndarray:
    """uint8 (size, size): 255 * clip(ramp - distance to the inner square [ramp, size - ramp], 0, ramp) / ramp,
    floored, which reproduces the reference `mask_template.png` at 512."""
    c = np.arange(size, dtype=np.float64)
    d = np.maximum(0.0, np.maximum(ramp - c, c - (size - ramp)))
    dist = np.sqrt(d[:, None] ** 2 + d[None, :] ** 2)
    return np.floor(255.0 * np.clip(ramp - dist, 0.0, ramp) / ramp + 1e-9).astype(np.uint8)


class PasteBack:
    """Precomputes the sampling grid and the warped mask for one photo and one crop matrix."""

    def __init__(self, photo_rgb: np.ndarray, crop_info, device: torch.device | str = "cpu", crop_size: int = 512):
        self.device = torch.device(device)
        self.height, self.width = photo_rgb.shape[:2]
        self.crop_size = crop_size
        self.photo = torch.from_numpy(np.ascontiguousarray(photo_rgb)).to(self.device)  # (H, W, 3) uint8
        m_c2o = np.asarray(crop_info.M_c2o, dtype=np.float64)
        m_o2c = np.linalg.inv(m_c2o)
        self.roi = self._footprint(m_c2o)
        x0, y0, x1, y1 = self.roi
        # For every photo pixel of the ROI, where it lands in the crop (pixel centres at integer coordinates).
        ys, xs = np.meshgrid(np.arange(y0, y1, dtype=np.float64), np.arange(x0, x1, dtype=np.float64), indexing="ij")
        u = m_o2c[0, 0] * xs + m_o2c[0, 1] * ys + m_o2c[0, 2]
        v = m_o2c[1, 0] * xs + m_o2c[1, 1] * ys + m_o2c[1, 2]
        grid = np.stack([(2 * u + 1) / crop_size - 1, (2 * v + 1) / crop_size - 1], axis=-1)
        self.grid = torch.from_numpy(grid.astype(np.float32))[None].to(self.device)  # (1, h, w, 2)
        template = torch.from_numpy(mask_template(crop_size).astype(np.float32) / 255.0)[None, None].to(self.device)
        self.mask = F.grid_sample(template, self.grid, mode="bilinear", padding_mode="zeros",
                                  align_corners=False)[0, 0, :, :, None]  # (h, w, 1) in [0, 1]
        self.photo_roi = self.photo[y0:y1, x0:x1].float()

    def _footprint(self, m_c2o: np.ndarray) -> tuple[int, int, int, int]:
        """Bounding box of the crop square in the photo, one pixel of margin for bilinear taps, clipped."""
        s = self.crop_size
        corners = np.array([[-1, -1], [s, -1], [-1, s], [s, s]], dtype=np.float64)
        pts = corners @ m_c2o[:2, :2].T + m_c2o[:2, 2]
        x0 = max(0, math.floor(pts[:, 0].min()) - 1)
        y0 = max(0, math.floor(pts[:, 1].min()) - 1)
        x1 = min(self.width, math.ceil(pts[:, 0].max()) + 2)
        y1 = min(self.height, math.ceil(pts[:, 1].max()) + 2)
        return x0, y0, max(x0, x1), max(y0, y1)

    @torch.no_grad()
    def __call__(self, frames512: torch.Tensor) -> torch.Tensor:
        """(B, 3, 512, 512) float in [0, 1] (or uint8) -> (B, H, W, 3) uint8 on this object's device."""
        b = frames512.shape[0]
        out = self.photo.expand(b, -1, -1, -1).clone()
        x0, y0, x1, y1 = self.roi
        if x1 <= x0 or y1 <= y0:
            return out
        frames = frames512.to(self.device)
        frames = frames.float() if frames.dtype == torch.uint8 else frames.float() * 255.0
        warped = F.grid_sample(frames, self.grid.expand(b, -1, -1, -1), mode="bilinear", padding_mode="zeros",
                               align_corners=False).permute(0, 2, 3, 1)  # (B, h, w, 3)
        blended = torch.lerp(self.photo_roi.expand_as(warped), warped, self.mask)
        # Where the mask is 0 the blend is the photo's value exactly; keep its bytes bit-for-bit.
        blended = torch.where(self.mask > 0, blended.round_().clamp_(0, 255), self.photo_roi)
        out[:, y0:y1, x0:x1] = blended.to(torch.uint8)
        return out
