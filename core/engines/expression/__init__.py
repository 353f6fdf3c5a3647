"""Expression control: face edits (LivePortrait keypoint sliders, retargeting MLPs, transfer), keyframes, auto
blink and MoDA's emotion timeline, on a photo (still or with audio) or a video.

``from core.engines.expression import ExpressionRequest, run, preview``.
"""
from .pipeline import preview, run
from .request import ExpressionRequest

__all__ = ["ExpressionRequest", "preview", "run"]
