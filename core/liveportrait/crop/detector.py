"""SCRFD face detector (insightface buffalo_l det_10g.onnx) run directly with onnxruntime.

Pre-processing, anchor decoding and NMS follow insightface's SCRFD: the image is letterboxed into a det_size
square (top-left aligned), normalised as (x - 127.5) / 128 in RGB, and each stride's outputs are decoded as
distances from anchor points at (x * stride, y * stride).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass
class Detections:
    boxes: np.ndarray   # (N, 4) x1, y1, x2, y2 in original pixels, sorted largest first
    scores: np.ndarray  # (N,)
    kps: np.ndarray     # (N, 5, 2) eyes, nose, mouth corners

    def __len__(self) -> int:
        return len(self.boxes)


def session(path: str | Path, providers: list[str] | None = None):
    """An onnxruntime session for ``path``; a corrupt file is a one-line BadInputError naming it (delete,
    re-download)."""
    import onnxruntime as ort

    from core import weights

    available = ort.get_available_providers()
    chosen = [p for p in (providers or ["CUDAExecutionProvider", "CPUExecutionProvider"]) if p in available]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=chosen or ["CPUExecutionProvider"])
    except Exception as exc:
        if weights.is_onnxruntime_error(exc):
            raise weights.corrupt_file(path, exc) from None
        raise


def anchor_centers(height: int, width: int, stride: int, num_anchors: int) -> np.ndarray:
    """(height * width * num_anchors, 2) anchor points in (y, x, anchor) row order."""
    centers = np.stack(np.mgrid[:height, :width][::-1], axis=-1).astype(np.float32) * stride
    return np.repeat(centers.reshape(-1, 2), num_anchors, axis=0)


def distance_to_boxes(points: np.ndarray, dist: np.ndarray) -> np.ndarray:
    return np.stack([points[:, 0] - dist[:, 0], points[:, 1] - dist[:, 1],
                     points[:, 0] + dist[:, 2], points[:, 1] + dist[:, 3]], axis=-1)


def distance_to_kps(points: np.ndarray, dist: np.ndarray) -> np.ndarray:
    return (np.tile(points, (1, dist.shape[1] // 2)) + dist).reshape(len(points), -1, 2)


def nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> list[int]:
    """Greedy NMS with insightface's +1 pixel area convention; returns kept indices by descending score."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[order[1:]]) - np.maximum(y1[i], y1[order[1:]]) + 1)
        inter = w * h
        iou = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(iou <= thresh)[0] + 1]
    return keep


class SCRFD:
    def __init__(self, path: str | Path, providers: list[str] | None = None, det_size: int = 512,
                 det_thresh: float = 0.15, nms_thresh: float = 0.4):
        self.session = session(path, providers)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        n = len(self.output_names)
        if n not in (6, 9, 10, 15):
            raise ValueError(f"{path}: {n} outputs is not an SCRFD layout")
        self.fmc = 3 if n in (6, 9) else 5
        self.strides = (8, 16, 32) if self.fmc == 3 else (8, 16, 32, 64, 128)
        self.num_anchors = 2 if self.fmc == 3 else 1
        self.use_kps = n in (9, 15)
        self.det_size, self.det_thresh, self.nms_thresh = det_size, det_thresh, nms_thresh

    def __call__(self, img_rgb: np.ndarray) -> Detections:
        """All faces above det_thresh in an RGB uint8 image, largest box first."""
        h, w = img_rgb.shape[:2]
        size = self.det_size
        if h / w > 1:
            new_h, new_w = size, int(size * w / h)
        else:
            new_w, new_h = size, int(size * h / w)
        det_scale = new_h / h
        canvas = np.zeros((size, size, 3), dtype=np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(img_rgb, (new_w, new_h))
        blob = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outs = [o[0] if o.ndim == 3 else o for o in self.session.run(self.output_names, {self.input_name: blob})]

        scores, boxes, kps = [], [], []
        for i, stride in enumerate(self.strides):
            points = anchor_centers(size // stride, size // stride, stride, self.num_anchors)
            score = outs[i].reshape(-1)
            keep = np.where(score >= self.det_thresh)[0]
            scores.append(score[keep])
            boxes.append(distance_to_boxes(points, outs[i + self.fmc] * stride)[keep])
            if self.use_kps:
                kps.append(distance_to_kps(points, outs[i + 2 * self.fmc] * stride)[keep])
        score = np.concatenate(scores)
        box = np.concatenate(boxes) / det_scale
        kp = np.concatenate(kps) / det_scale if self.use_kps else np.zeros((len(score), 5, 2), np.float32)
        order = score.argsort()[::-1]  # pre-sort like insightface, so score ties resolve the same way
        box, score, kp = box[order], score[order], kp[order]
        keep = nms(box, score, self.nms_thresh)
        box, score, kp = box[keep], score[keep], kp[keep]
        area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
        order = np.argsort(-area, kind="stable")
        return Detections(box[order].astype(np.float32), score[order].astype(np.float32),
                          kp[order].astype(np.float32))
