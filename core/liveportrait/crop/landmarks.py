"""Face landmarkers run with onnxruntime: insightface 2d106det (106 points from a box) and LivePortrait's
landmark.onnx (203 points from the 106), plus the eye/lip openness ratios the retargeting MLPs take."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .detector import session
from .geometry import crop_matrix_from_landmarks, similarity, transform_points, warp


class Landmark106:
    """2d106det: a 192 crop of 1.5 x the box's longer side, raw RGB pixels in (the graph normalises), outputs in
    [-1, 1] crop units, mapped back to the original image."""

    def __init__(self, path: str | Path, providers: list[str] | None = None):
        self.session = session(path, providers)
        inp = self.session.get_inputs()[0]
        self.input_name, self.size = inp.name, int(inp.shape[2])
        self.output_name = self.session.get_outputs()[0].name

    def crop_matrix(self, box) -> np.ndarray:
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        return similarity(center, max(x2 - x1, y2 - y1) * 1.5, 0.0, self.size)

    def __call__(self, img_rgb: np.ndarray, box) -> np.ndarray:
        M = self.crop_matrix(box)
        crop = warp(img_rgb, M, self.size)
        blob = crop.astype(np.float32).transpose(2, 0, 1)[None]
        pred = self.session.run([self.output_name], {self.input_name: blob})[0][0].reshape(-1, 2)[-106:]
        pts = (pred + 1) * (self.size // 2)
        return transform_points(pts, np.linalg.inv(M)).astype(np.float32)


class Landmark203:
    """LivePortrait landmark.onnx: a 224 crop (scale 1.5, vy -0.1, rotated) from the 106 points, RGB / 255 in;
    the third output holds the 203 points as fractions of the crop."""

    def __init__(self, path: str | Path, providers: list[str] | None = None, size: int = 224):
        self.session = session(path, providers)
        self.input_name = self.session.get_inputs()[0].name
        self.size = size

    def __call__(self, img_rgb: np.ndarray, pts106: np.ndarray) -> np.ndarray:
        M = crop_matrix_from_landmarks(pts106, dsize=self.size, scale=1.5, vy_ratio=-0.1)
        crop = warp(img_rgb, M, self.size)
        blob = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        out = self.session.run(None, {self.input_name: blob})[2]
        pts = out.reshape(-1, 2) * self.size
        return transform_points(pts, np.linalg.inv(M)).astype(np.float32)


def _ratio(lmk: np.ndarray, a: int, b: int, c: int, d: int, eps: float = 1e-6) -> float:
    return float(np.linalg.norm(lmk[a] - lmk[b]) / (np.linalg.norm(lmk[c] - lmk[d]) + eps))


def eye_close_ratios(lmk203: np.ndarray) -> np.ndarray:
    """(left, right) eye openness: lid distance over eye width."""
    return np.array([_ratio(lmk203, 6, 18, 0, 12), _ratio(lmk203, 30, 42, 24, 36)], dtype=np.float32)


def lip_close_ratio(lmk203: np.ndarray) -> float:
    """Mouth openness: inner-lip distance over mouth width."""
    return _ratio(lmk203, 90, 102, 48, 66)
