"""MuseTalk's crop rule from 68 iBUG landmarks, the suggested bbox_shift range, and manual boxes.

Rule (``get_landmark_and_bbox`` + v1.5's margin): landmarks are truncated to int32; the anchor is landmark 29's y plus
``bbox_shift``; the bottom is the lowest landmark (chin); the top mirrors the bottom about the anchor (clamped at 0);
x spans the landmarks. If that box is empty or x1 < 0 the detector box is used instead. v1.5 then adds
``extra_margin`` to the bottom (clamped to the frame height). Unlike the reference, the final box is clamped to the
frame on all sides, so the crop and the paste-back always cover the same pixels.

Manual box rule: a box given by the creator *is* the crop box (bbox_shift and extra_margin do not apply); the model
regenerates its lower half.
"""
from __future__ import annotations

import numpy as np

from core.errors import BadInputError

Box = tuple[int, int, int, int]


def landmark_box(lm68: np.ndarray, bbox_shift: int = 0, extra_margin: int = 0, frame_hw: tuple[int, int] | None = None,
                 fallback: np.ndarray | None = None) -> Box | None:
    """The crop box for one face, or None when neither the landmarks nor the fallback give a usable box."""
    lm = np.asarray(lm68, dtype=np.float64).astype(np.int32)
    ymid = int(lm[29, 1]) + int(bbox_shift)
    y2 = int(lm[:, 1].max())
    y1 = max(0, 2 * ymid - y2)
    x1, x2 = int(lm[:, 0].min()), int(lm[:, 0].max())
    if y2 - y1 <= 0 or x2 - x1 <= 0 or x1 < 0:
        if fallback is None:
            return None
        x1, y1, x2, y2 = (max(0, int(v)) for v in np.asarray(fallback)[:4])
    y2 += int(extra_margin)
    return clamp_box((x1, y1, x2, y2), frame_hw)


def clamp_box(box, frame_hw: tuple[int, int] | None) -> Box | None:
    x1, y1, x2, y2 = (int(v) for v in box)
    if frame_hw is not None:
        h, w = frame_hw
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return x1, y1, x2, y2


def shift_range(landmarks: np.ndarray) -> tuple[int, int]:
    """The reference's suggested bbox_shift range ``[-mean(y30-y29), mean(y29-y28)]`` over frames ([N,68,2])."""
    lm = np.asarray(landmarks, dtype=np.float64).astype(np.int32).reshape(-1, 68, 2)
    down = int(np.mean(lm[:, 30, 1] - lm[:, 29, 1]))
    up = int(np.mean(lm[:, 29, 1] - lm[:, 28, 1]))
    return -down, up


def manual_box(box, frame_hw: tuple[int, int], name: str = "the frame") -> Box:
    """A creator's box (four numbers, see ``core.request.parse_box``) in whole pixels, checked against the frame:
    it must have area and lie inside the frame."""
    h, w = frame_hw
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    if x2 <= x1 or y2 <= y1:
        raise BadInputError(f"box {x1},{y1},{x2},{y2} is empty: x2 must exceed x1 and y2 exceed y1")
    if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
        raise BadInputError(f"box {x1},{y1},{x2},{y2} lies outside the {w}x{h} frame of {name}")
    return x1, y1, x2, y2


def smooth_boxes(boxes: np.ndarray, valid: np.ndarray, window: int = 5) -> np.ndarray:
    """Centred moving average of each box coordinate over runs of consecutive face frames (edges use what exists)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    out = boxes.copy()
    half = window // 2
    n = len(boxes)
    i = 0
    while i < n:
        if not valid[i]:
            i += 1
            continue
        j = i
        while j < n and valid[j]:
            j += 1
        run = boxes[i:j]
        csum = np.concatenate([np.zeros((1, 4)), np.cumsum(run, axis=0)])
        idx = np.arange(j - i)
        lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, j - i)
        out[i:j] = (csum[hi] - csum[lo]) / (hi - lo)[:, None]
        i = j
    return np.round(out).astype(np.int64)
