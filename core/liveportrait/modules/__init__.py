"""The five LivePortrait networks, with the official module and parameter names."""
from .appearance import AppearanceFeatureExtractor
from .motion import MotionExtractor
from .spade import SPADEDecoder
from .stitching import StitchingRetargetingNetwork
from .warping import WarpingNetwork

__all__ = ["AppearanceFeatureExtractor", "MotionExtractor", "SPADEDecoder", "StitchingRetargetingNetwork",
           "WarpingNetwork"]
