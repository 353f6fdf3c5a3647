"""Paste animated 512 crops back into the full-resolution photo with a feathered mask, as LivePortrait does.

The mask is LivePortrait's template (255 inside, a 16-pixel linear ramp to 0 at the crop border, corners rounded
with the same radius), generated here rather than shipped. The arithmetic is the reference's (``parse_output`` then
``prepare_paste_back`` / ``paste_back``): the render is truncated to uint8, the uint8 frame and the uint8 mask are
warped with ``cv2.warpAffine`` (fixed point, INTER_LINEAR), and ``mask * warped + (1 - mask) * photo`` in float32 is
clipped and truncated. Deviation: only the crop's footprint in the photo is warped (the reference warps the whole
photo-sized canvas), which moves ~0.1 % of the pixels by one grey level; everything outside it, and wherever the mask
is 0, keeps the photo's own bytes.

It runs on the CPU in single-threaded numpy plus cv2, a few large operations per frame: the small multi-threaded
torch operations it replaces each waited for a descheduled worker whenever another process held a core.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch


def mask_template(size: int = 512, ramp: int = 16) -> np.ndarray:
    """uint8 (size, size): 255 * clip(ramp - distance to the inner square [ramp, size - ramp], 0, ramp) / ramp,
    floored, which reproduces the reference `mask_template.png` at 512."""
    c = np.arange(size, dtype=np.float64)
    d = np.maximum(0.0, np.maximum(ramp - c, c - (size - ramp)))
    dist = np.sqrt(d[:, None] ** 2 + d[None, :] ** 2)
    return np.floor(255.0 * np.clip(ramp - dist, 0.0, ramp) / ramp + 1e-9).astype(np.uint8)


class PasteBack:
    """Precomputes the footprint, the warped mask and the photo's share of the blend for one photo and crop matrix.

    The frames come back on the CPU, where they are encoded (only the uint8 truncation of the render runs on the
    render's device).
    """

    def __init__(self, photo_rgb: np.ndarray, crop_info, crop_size: int = 512):
        self.height, self.width = photo_rgb.shape[:2]
        self.crop_size = crop_size
        self.photo = np.ascontiguousarray(photo_rgb)  # (H, W, 3) uint8
        m_c2o = np.asarray(crop_info.M_c2o, dtype=np.float64)
        self.roi = self._footprint(m_c2o)
        x0, y0, x1, y1 = self.roi
        self.m_roi = m_c2o[:2].copy()
        self.m_roi[:, 2] -= (x0, y0)  # crop -> ROI pixels
        self.size = (x1 - x0, y1 - y0)
        warped = cv2.warpAffine(mask_template(crop_size), self.m_roi, self.size, flags=cv2.INTER_LINEAR)
        self.mask = torch.from_numpy(warped.astype(np.float32)[..., None] / 255.0)  # (h, w, 1) in [0, 1]
        self.photo_share = (1 - self.mask.numpy()) * self.photo[y0:y1, x0:x1]  # float32, as the reference's

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

    def paste(self, crop: np.ndarray, out: np.ndarray) -> None:
        """Blend one uint8 (512, 512, 3) crop into ``out``, a copy of the photo, in place."""
        x0, y0, x1, y1 = self.roi
        blend = cv2.warpAffine(crop, self.m_roi, self.size, flags=cv2.INTER_LINEAR) * self.mask.numpy()
        blend += self.photo_share
        out[y0:y1, x0:x1] = np.clip(blend, 0, 255, out=blend)  # the uint8 cast truncates, as astype does

    @torch.no_grad()
    def __call__(self, frames512: torch.Tensor) -> torch.Tensor:
        """(B, 3, 512, 512) float in [0, 1] (or uint8) -> (B, H, W, 3) uint8 on the CPU."""
        out = np.repeat(self.photo[None], frames512.shape[0], axis=0)
        x0, y0, x1, y1 = self.roi
        if x1 > x0 and y1 > y0:
            for crop, frame in zip(to_uint8(frames512), out):
                self.paste(crop, frame)
        return torch.from_numpy(out)


def to_uint8(frames512: torch.Tensor) -> np.ndarray:
    """(B, 512, 512, 3) uint8 crops: floats truncated as the reference's ``parse_output`` does
    (``clip(clip(x, 0, 1) * 255, 0, 255).astype(uint8)``), uint8 passed through. On a GPU the truncation runs there
    (a quarter of the bytes come back); on the CPU it is numpy, one thread."""
    if frames512.dtype != torch.uint8 and frames512.device.type != "cpu":
        frames512 = (frames512.float().clamp(0, 1) * 255).clamp(0, 255).to(torch.uint8)
    x = frames512.detach().cpu().numpy().transpose(0, 2, 3, 1)
    if x.dtype != np.uint8:
        x = np.clip(np.clip(x.astype(np.float32), 0, 1) * np.float32(255), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(x)
