"""LivePortrait + face-crop weight files (official HF layout of KwaiVGI/LivePortrait) and tiny test checkpoints.

The portrait manifest (`core.engines.portrait.weights`) re-exports `FILES` and calls `make_test_checkpoints`.
Local paths mirror the HF repo paths under the checkpoints folder.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.weights import WeightFile, is_test_checkpoints

from .config import LivePortraitConfig, tiny_config
from .modules import (
    AppearanceFeatureExtractor,
    MotionExtractor,
    SPADEDecoder,
    StitchingRetargetingNetwork,
    WarpingNetwork,
)

HF_REPO = "KwaiVGI/LivePortrait"

APPEARANCE = "liveportrait/base_models/appearance_feature_extractor.pth"
MOTION = "liveportrait/base_models/motion_extractor.pth"
WARPING = "liveportrait/base_models/warping_module.pth"
SPADE = "liveportrait/base_models/spade_generator.pth"
STITCHING = "liveportrait/retargeting_models/stitching_retargeting_module.pth"
LANDMARK_203 = "liveportrait/landmark.onnx"
DETECTOR = "insightface/models/buffalo_l/det_10g.onnx"
LANDMARK_106 = "insightface/models/buffalo_l/2d106det.onnx"

# Sub-dict names inside the stitching/retargeting file -> our MLP names.
STITCHING_KEYS = {"stitching": "retarget_shoulder", "lip": "retarget_mouth", "eye": "retarget_eye"}

_NOTES = {
    APPEARANCE: "LivePortrait F (appearance feature extractor)",
    MOTION: "LivePortrait M (motion extractor, ConvNeXt-V2 tiny)",
    WARPING: "LivePortrait W (warping network)",
    SPADE: "LivePortrait G (SPADE decoder)",
    STITCHING: "LivePortrait stitching + lip/eye retargeting MLPs",
    LANDMARK_203: "LivePortrait 203-point landmarker (ONNX)",
    DETECTOR: "insightface buffalo_l SCRFD face detector (ONNX)",
    LANDMARK_106: "insightface buffalo_l 106-point landmarker (ONNX)",
}

FILES: list[WeightFile] = [WeightFile(local=path, repo_id=HF_REPO, filename=path, note=note)
                           for path, note in _NOTES.items()]


def config_for(root: str | Path) -> LivePortraitConfig:
    """Tiny networks for a test-weights folder, the official ones otherwise."""
    return tiny_config() if is_test_checkpoints(root) else LivePortraitConfig()


def build_networks(cfg: LivePortraitConfig) -> dict[str, nn.Module]:
    """Fresh (untrained) networks keyed like the checkpoint files: F, M, W, G and the three MLPs."""
    return {
        "appearance": AppearanceFeatureExtractor(cfg.appearance),
        "motion": MotionExtractor(cfg.motion),
        "warping": WarpingNetwork(cfg.warping),
        "spade": SPADEDecoder(cfg.spade),
        "stitching": StitchingRetargetingNetwork(cfg.stitching),
        "lip": StitchingRetargetingNetwork(cfg.lip),
        "eye": StitchingRetargetingNetwork(cfg.eye),
    }


def _randomise(module: nn.Module, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Random state dict with non-trivial BN statistics (mean 0 / var 1 would hide normalisation bugs)."""
    state = module.state_dict()
    for key, value in state.items():
        if not value.dtype.is_floating_point:
            continue
        if key.endswith("running_var"):
            state[key] = torch.rand(value.shape, generator=generator) + 0.5
        elif key.endswith("running_mean"):
            state[key] = torch.randn(value.shape, generator=generator) * 0.1
        elif key.endswith(("weight_u", "weight_v")):
            state[key] = nn.functional.normalize(torch.randn(value.shape, generator=generator), dim=0)
        else:
            state[key] = value + torch.randn(value.shape, generator=generator) * 0.01
    return state


def make_test_checkpoints(root: str | Path, seed: int = 0) -> None:
    """Write tiny random LivePortrait checkpoints and ONNX face models at the official paths and key layouts."""
    from .crop.testmodels import write_test_onnx_models

    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    nets = build_networks(tiny_config())
    for name, path in (("appearance", APPEARANCE), ("motion", MOTION), ("warping", WARPING), ("spade", SPADE)):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(_randomise(nets[name], generator), root / path)
    # The official file wraps each MLP state dict (saved from DataParallel, hence `module.`) in a named sub-dict.
    stitching = {STITCHING_KEYS[name]: {f"module.{k}": v for k, v in _randomise(nets[name], generator).items()}
                 for name in ("stitching", "lip", "eye")}
    (root / STITCHING).parent.mkdir(parents=True, exist_ok=True)
    torch.save(stitching, root / STITCHING)
    write_test_onnx_models(root / DETECTOR, root / LANDMARK_106, root / LANDMARK_203, seed=seed)
