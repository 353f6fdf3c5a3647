"""LivePortrait + face-crop weight files and tiny test checkpoints, in two sets.

``KWAIVGI``: the official files of ``KwaiVGI/LivePortrait`` (local paths mirror the Hub paths), for pure LivePortrait
edits. ``MODA``: the copies MoDA ships in ``lixinyizju/moda`` under ``decode/v1/first_stage/`` and its configs load;
MoDA's motion statistics were computed with them, and nothing public says they equal KwaiVGI's, so anything rendering
MoDA motion loads this set. Both sets share the insightface detector and 106-point landmarker (KwaiVGI's copies of
the public buffalo_l files). Where both sets are present and a file is byte-identical (sha256), ``store_once`` keeps
one copy on disk (a hard link).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from core.weights import WeightFile, content_hash, is_test_checkpoints

from .config import LivePortraitConfig, tiny_config
from .modules import (
    AppearanceFeatureExtractor,
    MotionExtractor,
    SPADEDecoder,
    StitchingRetargetingNetwork,
    WarpingNetwork,
)

HF_REPO = "KwaiVGI/LivePortrait"
MODA_REPO = "lixinyizju/moda"
DETECTOR = "insightface/models/buffalo_l/det_10g.onnx"
LANDMARK_106 = "insightface/models/buffalo_l/2d106det.onnx"

# Sub-dict names inside the stitching/retargeting file -> our MLP names.
STITCHING_KEYS = {"stitching": "retarget_shoulder", "lip": "retarget_mouth", "eye": "retarget_eye"}

_NOTES = {
    "appearance": "LivePortrait F (appearance feature extractor)",
    "motion": "LivePortrait M (motion extractor, ConvNeXt-V2 tiny)",
    "warping": "LivePortrait W (warping network)",
    "spade": "LivePortrait G (SPADE decoder)",
    "stitching": "LivePortrait stitching + lip/eye retargeting MLPs",
    "landmark_203": "LivePortrait 203-point landmarker (ONNX)",
}


# Exact sizes (bytes) of the public files, from the Hub's LFS metadata of KwaiVGI/LivePortrait (the download checks
# them). MoDA's copies are left unsized: nothing public says they are the same bytes.
SIZES = {
    "liveportrait/base_models/appearance_feature_extractor.pth": 3_387_959,
    "liveportrait/base_models/motion_extractor.pth": 112_545_506,
    "liveportrait/base_models/spade_generator.pth": 221_813_590,
    "liveportrait/base_models/warping_module.pth": 182_180_086,
    "liveportrait/retargeting_models/stitching_retargeting_module.pth": 2_393_098,
    "liveportrait/landmark.onnx": 114_666_491,
    DETECTOR: 16_923_827,
    LANDMARK_106: 5_030_888,
}


@dataclass(frozen=True)
class WeightSet:
    """One copy of LivePortrait's networks: its Hub repository and each file's path there (= under checkpoints/)."""

    name: str
    repo_id: str
    appearance: str
    motion: str
    warping: str
    spade: str
    stitching: str
    landmark_203: str

    def paths(self) -> dict[str, str]:
        """Network name -> local path, for the files this set owns (not the shared insightface models)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in _NOTES}

    def files(self) -> list[WeightFile]:
        """This set's files, then the shared insightface detector and landmarker."""
        own = [WeightFile(local=path, repo_id=self.repo_id, filename=path, size=SIZES.get(path),
                          note=f"{_NOTES[name]} ({self.name} copy)")
               for name, path in self.paths().items()]
        return own + [
            WeightFile(local=DETECTOR, repo_id=HF_REPO, filename=DETECTOR, size=SIZES[DETECTOR],
                       note="insightface buffalo_l SCRFD face detector (ONNX)"),
            WeightFile(local=LANDMARK_106, repo_id=HF_REPO, filename=LANDMARK_106, size=SIZES[LANDMARK_106],
                       note="insightface buffalo_l 106-point landmarker (ONNX)"),
        ]


def _set(name: str, repo_id: str, base: str, landmark_203: str) -> WeightSet:
    return WeightSet(name, repo_id, f"{base}/base_models/appearance_feature_extractor.pth",
                     f"{base}/base_models/motion_extractor.pth", f"{base}/base_models/warping_module.pth",
                     f"{base}/base_models/spade_generator.pth",
                     f"{base}/retargeting_models/stitching_retargeting_module.pth", landmark_203)


KWAIVGI = _set("KwaiVGI", HF_REPO, "liveportrait", "liveportrait/landmark.onnx")
MODA = _set("MoDA", MODA_REPO, "decode/v1/first_stage", "decode/v1/first_stage/landmark.onnx")

# The KwaiVGI set's paths under their historical names.
APPEARANCE, MOTION, WARPING, SPADE = KWAIVGI.appearance, KWAIVGI.motion, KWAIVGI.warping, KWAIVGI.spade
STITCHING, LANDMARK_203 = KWAIVGI.stitching, KWAIVGI.landmark_203

FILES: list[WeightFile] = KWAIVGI.files()


def store_once(root: str | Path, a: WeightSet = KWAIVGI, b: WeightSet = MODA) -> list[str]:
    """Where both sets' copies of a file are present and byte-identical (sha256), make ``b``'s a hard link to
    ``a``'s so the bytes are stored once. Returns the paths of ``b`` now shared; files that differ stay apart."""
    root = Path(root)
    shared = []
    for name, path_a in a.paths().items():
        first, second = root / path_a, root / b.paths()[name]
        if not (first.is_file() and second.is_file()) or os.path.samefile(first, second):
            continue
        if content_hash(first) == content_hash(second):
            tmp = second.with_name(f".{second.name}.link")
            tmp.unlink(missing_ok=True)
            try:
                os.link(first, tmp)
            except OSError:  # no hard links on this file system: keep both copies
                continue
            os.replace(tmp, second)
            shared.append(b.paths()[name])
    return shared



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


def make_test_checkpoints(root: str | Path, seed: int = 0, weights: WeightSet = KWAIVGI) -> None:
    """Write tiny random LivePortrait checkpoints and ONNX face models at one set's paths, in the official key
    layouts (the insightface models at their shared paths)."""
    from .crop.testmodels import write_test_onnx_models

    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    nets = build_networks(tiny_config())
    for name in ("appearance", "motion", "warping", "spade"):
        path = root / getattr(weights, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(_randomise(nets[name], generator), path)
    # The official file wraps each MLP state dict (saved from DataParallel, hence `module.`) in a named sub-dict.
    stitching = {STITCHING_KEYS[name]: {f"module.{k}": v for k, v in _randomise(nets[name], generator).items()}
                 for name in ("stitching", "lip", "eye")}
    (root / weights.stitching).parent.mkdir(parents=True, exist_ok=True)
    torch.save(stitching, root / weights.stitching)
    write_test_onnx_models(root / DETECTOR, root / LANDMARK_106, root / weights.landmark_203, seed=seed)


def make_test_moda_copies(root: str | Path) -> None:
    """Both sets of tiny test weights: KwaiVGI's, and MoDA's as byte copies of them, then stored once (as a download
    of both sets ends up)."""
    import shutil

    root = Path(root)
    make_test_checkpoints(root)
    for name, path in MODA.paths().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).unlink(missing_ok=True)  # a second run: the copy may be a hard link to the file just rewritten
        shutil.copyfile(root / KWAIVGI.paths()[name], root / path)
    store_once(root, KWAIVGI, MODA)
