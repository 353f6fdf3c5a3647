"""Network hyper-parameters; the defaults are the official LivePortrait `models.yaml` values.

Tests build tiny networks by shrinking channel counts; the key layout of the state dicts does not depend on
channel counts, so a tiny checkpoint exercises exactly the loading code the real one does.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AppearanceConfig:
    """F: image -> 3D appearance feature volume (C=reshape_channel, D=reshape_depth, H/4, W/4)."""

    image_channel: int = 3
    block_expansion: int = 64
    num_down_blocks: int = 2
    max_features: int = 512
    reshape_channel: int = 32
    reshape_depth: int = 16
    num_resblocks: int = 6


@dataclass(frozen=True)
class MotionConfig:
    """M: ConvNeXt-V2 backbone with keypoint, pose (binned), translation, expression and scale heads."""

    num_kp: int = 21
    num_bins: int = 66
    depths: tuple[int, ...] = (3, 3, 9, 3)
    dims: tuple[int, ...] = (96, 192, 384, 768)
    in_chans: int = 3


@dataclass(frozen=True)
class DenseMotionConfig:
    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    reshape_depth: int = 16
    compress: int = 4


@dataclass(frozen=True)
class WarpingConfig:
    """W: dense motion from keypoints, warp of the feature volume, occlusion-masked 2D features."""

    num_kp: int = 21
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    reshape_channel: int = 32
    estimate_occlusion_map: bool = True
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)


@dataclass(frozen=True)
class SpadeConfig:
    """G: SPADE decoder from warped features to an RGB image at `upscale` x the feature resolution x 4."""

    upscale: int = 2
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    out_channels: int = 64
    spade_hidden: int = 128


@dataclass(frozen=True)
class MLPConfig:
    input_size: int
    hidden_sizes: tuple[int, ...]
    output_size: int


STITCHING = MLPConfig(126, (128, 128, 64), 65)
LIP = MLPConfig(65, (128, 128, 64), 63)
EYE = MLPConfig(66, (256, 256, 128, 128, 64), 63)


@dataclass(frozen=True)
class LivePortraitConfig:
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    warping: WarpingConfig = field(default_factory=WarpingConfig)
    spade: SpadeConfig = field(default_factory=SpadeConfig)
    stitching: MLPConfig = STITCHING
    lip: MLPConfig = LIP
    eye: MLPConfig = EYE


def tiny_config() -> LivePortraitConfig:
    """Smallest config that keeps every official key and the 256 -> 512 geometry (for tests and test weights).

    Constraints kept: F's max_features = reshape_channel x reshape_depth = W's max_features; the dense-motion depth
    equals that depth; G's input width min(max_features, 4 x block_expansion) equals W's output 4 x block_expansion.
    """
    return LivePortraitConfig(
        appearance=AppearanceConfig(block_expansion=4, max_features=16, reshape_channel=4, reshape_depth=4,
                                    num_resblocks=2),
        motion=MotionConfig(depths=(1, 1, 2, 1), dims=(8, 8, 16, 16)),
        warping=WarpingConfig(block_expansion=4, max_features=16, reshape_channel=4,
                              dense_motion=DenseMotionConfig(block_expansion=4, max_features=8, num_blocks=2,
                                                             reshape_depth=4, compress=1)),
        spade=SpadeConfig(block_expansion=4, max_features=16, out_channels=4, spade_hidden=8),
    )
