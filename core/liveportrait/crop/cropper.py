"""Source-photo crop for LivePortrait: detect -> 106 points -> rotation-aware square (scale 2.3, vy -0.125) -> 512
and 256 crops, with the matrices paste-back needs. A manual face box skips detection (and rotation)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import BadInputError

from .. import weights as lpw
from .detector import SCRFD, Detections
from .geometry import (
    CROP_SCALE,
    CROP_SIZE,
    CROP_VY,
    NET_SIZE,
    crop_matrix_from_box,
    crop_matrix_from_landmarks,
    transform_points,
    warp,
)
from .landmarks import Landmark106, Landmark203


@dataclass
class CropInfo:
    img_crop_512: np.ndarray        # (512, 512, 3) uint8 RGB
    img_crop_256: np.ndarray        # (256, 256, 3) uint8 RGB, the networks' input
    M_o2c: np.ndarray               # (3, 3) original pixels -> 512-crop pixels
    M_c2o: np.ndarray               # (3, 3) inverse
    box: np.ndarray                 # (4,) face box used (detected or given), original pixels
    landmarks_106: np.ndarray       # (106, 2) original pixels
    landmarks_203: np.ndarray       # (203, 2) original pixels (LivePortrait's `lmk_crop`, retargeting ratios)
    image_size: tuple[int, int]     # (H, W) of the photo the matrices refer to

    def to_crop(self, pts: np.ndarray) -> np.ndarray:
        """Original-image points -> 512-crop points."""
        return transform_points(pts, self.M_o2c)

    def to_original(self, pts: np.ndarray) -> np.ndarray:
        """512-crop points -> original-image points."""
        return transform_points(pts, self.M_c2o)


class FaceCropper:
    """The three ONNX face models, loaded once (onnxruntime sessions; CUDA provider when available)."""

    def __init__(self, root: str | Path, providers: list[str] | None = None, det_thresh: float = 0.15,
                 weights: lpw.WeightSet = lpw.KWAIVGI):
        """`weights` picks the 203-point landmarker's copy (``lpw.MODA`` for MoDA); the detectors are shared."""
        root = Path(root)
        self.detector = SCRFD(root / lpw.DETECTOR, providers, det_size=512, det_thresh=det_thresh)
        self.landmark106 = Landmark106(root / lpw.LANDMARK_106, providers)
        self.landmark203 = Landmark203(root / weights.landmark_203, providers)

    @classmethod
    def cached(cls, root: str | Path, cache=None, weights: lpw.WeightSet = lpw.KWAIVGI,
               placement: str = "resident") -> FaceCropper:
        """The cropper from the shared model cache. Its ONNX sessions cannot move between devices: with the
        ``resident`` placement they run on CUDA when available, otherwise (memory profiles offload and low) on the
        CPU, where the three small face models run once per photo and hold no accelerator memory."""
        from core.cache import default_cache

        providers = None if placement == "resident" else ["CPUExecutionProvider"]
        key = ("face-cropper", weights.name, "onnxruntime", "fp32", str(Path(root).resolve()), placement == "resident")
        return (cache or default_cache()).get(key, lambda: cls(root, providers, weights=weights))

    def detect_faces(self, img_rgb: np.ndarray) -> Detections:
        """Faces in an RGB uint8 photo, largest first (boxes, scores, 5 keypoints)."""
        return self.detector(_check_image(img_rgb))

    def landmarks_106(self, img_rgb: np.ndarray, box) -> np.ndarray:
        return self.landmark106(img_rgb, box)

    def landmarks_203(self, img_rgb: np.ndarray, pts106: np.ndarray) -> np.ndarray:
        return self.landmark203(img_rgb, pts106)

    def crop_source(self, img_rgb: np.ndarray, face: int | None = None, box=None, point=None,
                    dsize: int = CROP_SIZE, scale: float = CROP_SCALE, vy_ratio: float = CROP_VY) -> CropInfo:
        """Crop one face. Default: the largest detected face; `face` picks the N-th counted from the left
        (0 = leftmost), `point` (x, y) the face whose box holds it (the nearest box centre if none does).

        With `box` (x1, y1, x2, y2) no detector runs and the crop is geometric: an upright square of
        `scale` x the box's longer side centred on the box and moved up by 0.125 x the side. Landmarks are still
        computed inside the box (for retargeting ratios) but do not move the crop.
        """
        img_rgb = _check_image(img_rgb)
        h, w = img_rgb.shape[:2]
        if box is not None:
            box = np.asarray(box, dtype=np.float32)
            if box.shape != (4,) or not (0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h):
                raise BadInputError(f"face box {box.tolist()} must be x1,y1,x2,y2 inside the {w}x{h} photo")
            pts106 = self.landmark106(img_rgb, box)
            M = crop_matrix_from_box(box, dsize, scale, vy_ratio)
        else:
            faces = self.detector(img_rgb)
            if len(faces) == 0:
                raise BadInputError("no face found in the photo; draw a face box (x1,y1,x2,y2) or use a clearer photo")
            box = faces.boxes[_pick_face(faces.boxes, face, point)]
            pts106 = self.landmark106(img_rgb, box)
            M = crop_matrix_from_landmarks(pts106, dsize, scale, vy_ratio=vy_ratio)
        pts203 = self.landmark203(img_rgb, pts106)
        crop = warp(img_rgb, M, dsize)
        return CropInfo(img_crop_512=crop, img_crop_256=cv2.resize(crop, (NET_SIZE, NET_SIZE),
                                                                   interpolation=cv2.INTER_AREA),
                        M_o2c=M, M_c2o=np.linalg.inv(M), box=np.asarray(box, np.float32),
                        landmarks_106=pts106, landmarks_203=pts203, image_size=(h, w))


def _pick_face(boxes: np.ndarray, face: int | None, point) -> int:
    """Index into ``boxes`` (largest first) of the face asked for: the largest, the N-th from the left, or the one
    under ``point``."""
    if point is not None:
        x, y = point
        inside = [i for i, (x1, y1, x2, y2) in enumerate(boxes) if x1 <= x <= x2 and y1 <= y <= y2]
        if inside:
            return inside[0]
        centres = (boxes[:, :2] + boxes[:, 2:4]) / 2
        return int(np.argmin(np.hypot(centres[:, 0] - x, centres[:, 1] - y)))
    if face is None:
        return 0
    if not 0 <= face < len(boxes):
        raise BadInputError(f"the photo has {len(boxes)} face(s); face number {face} does not exist "
                            f"(0..{len(boxes) - 1}, counted from the left) or draw a face box")
    return int(np.argsort(boxes[:, 0], kind="stable")[face])


def _check_image(img: np.ndarray) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise BadInputError("the photo must be an RGB uint8 image (H, W, 3)")
    if min(img.shape[:2]) < 16:
        raise BadInputError(f"the photo is too small ({img.shape[1]}x{img.shape[0]}); use at least 64x64 pixels")
    return np.ascontiguousarray(img)
