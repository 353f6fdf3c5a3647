"""Crop geometry of LivePortrait's cropper: a rotation-aware square around the face, as 3x3 similarity matrices.

Convention: M_o2c maps original-image pixel coordinates to crop coordinates (row vectors [x, y, 1] @ M.T);
M_c2o is its inverse. Warps use cv2.warpAffine semantics (bilinear, black outside the image).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from core.errors import BadInputError

CROP_SCALE = 2.3        # source crop: square side = 2.3 x the landmark extent
CROP_VY = -0.125        # and its centre moves up by 0.125 x the side, to keep the forehead
CROP_SIZE = 512
NET_SIZE = 256


def eye_lip_axis(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eye centre, lip centre) from 106 (insightface), 203 (LivePortrait) or 5 (SCRFD) points."""
    n = len(pts)
    if n == 106:
        left, right = pts[[33, 35, 40, 39]].mean(0), pts[[87, 89, 94, 93]].mean(0)
        lip = (pts[52] + pts[61]) / 2
    elif n == 203:
        left, right = pts[[0, 6, 12, 18]].mean(0), pts[[24, 30, 36, 42]].mean(0)
        lip = (pts[48] + pts[66]) / 2
    elif n == 5:
        left, right, lip = pts[0], pts[1], (pts[3] + pts[4]) / 2
    else:
        raise ValueError(f"unsupported landmark count {n}")
    return (left + right) / 2, lip


def rect_from_landmarks(pts: np.ndarray, scale: float, vx_ratio: float = 0.0, vy_ratio: float = 0.0
                        ) -> tuple[np.ndarray, float, float]:
    """(centre, side, angle) of the square crop: the axes follow the eye->lip direction (y) and its normal (x);
    the square covers all points in that rotated frame, times `scale`, then shifts by (vx, vy) x side."""
    pts = np.asarray(pts, dtype=np.float64)
    eye, lip = eye_lip_axis(pts)
    uy = lip - eye
    norm = np.linalg.norm(uy)
    uy = uy / norm if norm > 1e-3 else np.array([0.0, 1.0])
    ux = np.array([uy[1], -uy[0]])
    angle = math.acos(max(-1.0, min(1.0, ux[0])))
    if ux[1] < 0:
        angle = -angle
    center0 = pts.mean(0)
    rotated = (pts - center0) @ np.stack([ux, uy]).T
    lo, hi = rotated.min(0), rotated.max(0)
    mid = (lo + hi) / 2
    side = float(max(hi - lo)) * scale
    center = center0 + ux * mid[0] + uy * mid[1] + ux * (vx_ratio * side) + uy * (vy_ratio * side)
    return center, side, angle


def similarity(center: np.ndarray, side: float, angle: float, dsize: int) -> np.ndarray:
    """3x3 original->crop matrix: rotate by -angle about `center`, scale side -> dsize, centre at dsize/2."""
    if not side > 1e-6 or not np.all(np.isfinite(center)):
        raise BadInputError("could not place a face crop (degenerate landmarks); draw a face box instead")
    s = dsize / side
    c, si = math.cos(angle), math.sin(angle)
    cx, cy = float(center[0]), float(center[1])
    t = dsize / 2
    return np.array([[s * c, s * si, t - s * (c * cx + si * cy)],
                     [-s * si, s * c, t - s * (-si * cx + c * cy)],
                     [0.0, 0.0, 1.0]])


def crop_matrix_from_landmarks(pts: np.ndarray, dsize: int = CROP_SIZE, scale: float = CROP_SCALE,
                               vx_ratio: float = 0.0, vy_ratio: float = CROP_VY, rotate: bool = True) -> np.ndarray:
    center, side, angle = rect_from_landmarks(pts, scale, vx_ratio, vy_ratio)
    return similarity(center, side, angle if rotate else 0.0, dsize)


def crop_matrix_from_box(box, dsize: int = CROP_SIZE, scale: float = CROP_SCALE, vy_ratio: float = CROP_VY
                         ) -> np.ndarray:
    """A face box (x1, y1, x2, y2) -> upright square crop: side = scale x the longer box side, centred on the box,
    moved by vy_ratio x side along y (up for negative values), like the landmark crop without rotation."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (x2 > x1 and y2 > y1):
        raise BadInputError(f"face box {box} is empty: use x1,y1,x2,y2 with x2 > x1 and y2 > y1")
    side = max(x2 - x1, y2 - y1) * scale
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2 + vy_ratio * side])
    return similarity(center, side, 0.0, dsize)


def transform_points(pts: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(N, 2) points through a 2x3 or 3x3 affine matrix."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ M[:2, :2].T + M[:2, 2]


def warp(img: np.ndarray, M: np.ndarray, dsize: int | tuple[int, int]) -> np.ndarray:
    """Bilinear affine warp (cv2 semantics: dst(x) = src(M^-1 x)), black outside the source."""
    size = (dsize, dsize) if isinstance(dsize, int) else tuple(dsize)
    return cv2.warpAffine(img, M[:2].astype(np.float64), size, flags=cv2.INTER_LINEAR)


def resize_to_limit(img: np.ndarray, max_dim: int = 1920, division: int = 2) -> np.ndarray:
    """Downscale so the longer side is at most max_dim, then crop to multiples of `division` (reference rule)."""
    h, w = img.shape[:2]
    if max_dim > 0 and max(h, w) > max_dim:
        new_w, new_h = (int(w * max_dim / h), max_dim) if h > w else (max_dim, int(h * max_dim / w))
        img = cv2.resize(img, (new_w, new_h))
    division = max(division, 1)
    h2, w2 = img.shape[0] - img.shape[0] % division, img.shape[1] - img.shape[1] % division
    return img if h2 == 0 or w2 == 0 else img[:h2, :w2]
