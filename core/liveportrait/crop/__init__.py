"""Face detection (SCRFD), 106/203-point landmarks and LivePortrait's source crop, on onnxruntime directly."""
from .cropper import CropInfo, FaceCropper
from .detector import Detections
from .geometry import resize_to_limit, transform_points
from .landmarks import eye_close_ratios, lip_close_ratio

__all__ = [
           "CropInfo",
           "Detections",
           "FaceCropper",
           "eye_close_ratios",
           "lip_close_ratio",
           "resize_to_limit",
           "transform_points",
]
