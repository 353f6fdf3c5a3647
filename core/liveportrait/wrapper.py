"""LivePortraitRenderer: strict loading of the official checkpoints and batched source/keypoint/render ops."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import BadInputError
from core.weights import load_state_dict, load_strict

from . import weights as lpw
from .camera import bins_to_degrees, rotation_matrix, transform_keypoints
from .config import LivePortraitConfig


@dataclass
class SourceState:
    """Everything the renderer needs from the source crop; tensors live on the renderer's device, fp32, batch 1."""

    f_s: torch.Tensor       # (1, 32, 16, 64, 64) appearance feature volume
    pitch: torch.Tensor     # (1,) degrees
    yaw: torch.Tensor       # (1,) degrees
    roll: torch.Tensor      # (1,) degrees
    t: torch.Tensor         # (1, 3)
    exp: torch.Tensor       # (1, 21, 3)
    scale: torch.Tensor     # (1, 1)
    kp: torch.Tensor        # (1, 21, 3) canonical keypoints x_c
    rotation: torch.Tensor  # (1, 3, 3) R(pitch, yaw, roll) for row vectors
    x_s: torch.Tensor       # (1, 21, 3) implicit source keypoints s * (x_c @ R + exp) + t

    def motion_vector(self) -> torch.Tensor:
        """(1, 70) in MoDA's layout: exp(63), scale, tx, ty, tz=0, pitch, yaw, roll."""
        t = self.t.clone()
        t[:, 2] = 0
        pose = torch.stack([self.pitch, self.yaw, self.roll], dim=-1)
        return torch.cat([self.exp.reshape(1, -1), self.scale.reshape(1, 1), t, pose], dim=-1)


def image_to_tensor(img: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, 3) or (B, H, W, 3) RGB -> float (B, 3, H, W) in [0, 1] (no mean/std, as the reference)."""
    x = torch.from_numpy(np.ascontiguousarray(img)).to(device)
    if x.ndim == 3:
        x = x[None]
    return x.permute(0, 3, 1, 2).float().div_(255.0)


class LivePortraitRenderer(nn.Module):
    """F, M, W, G and the stitching/retargeting MLPs, with batched inference helpers.

    Weights stay fp32; `dtype` (fp16/bf16) runs F, M, W and G under autocast as the reference does, while pose,
    keypoint algebra and the MLPs stay fp32.
    """

    def __init__(self, cfg: LivePortraitConfig | None = None, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        cfg = cfg or LivePortraitConfig()
        nets = lpw.build_networks(cfg)
        self.cfg = cfg
        self.appearance_feature_extractor = nets["appearance"]
        self.motion_extractor = nets["motion"]
        self.warping_module = nets["warping"]
        self.spade_generator = nets["spade"]
        self.stitching = nets["stitching"]
        self.retarget_lip_net = nets["lip"]
        self.retarget_eye_net = nets["eye"]
        self.device = torch.device(device)
        self.dtype = dtype
        self.eval().requires_grad_(False).to(self.device)

    # ----------------------------------------------------------------------------------------------- loading
    @classmethod
    def from_checkpoints(cls, root: str | Path, device: torch.device | str = "cpu",
                         dtype: torch.dtype = torch.float32, cfg: LivePortraitConfig | None = None,
                         weights: lpw.WeightSet = lpw.KWAIVGI) -> LivePortraitRenderer:
        """Build and strictly load every network of one weight set (``lpw.KWAIVGI``, or ``lpw.MODA`` for MoDA
        motion) from `root`; a key mismatch is an error."""
        root = Path(root)
        renderer = cls(cfg or lpw.config_for(root), device="cpu", dtype=dtype)
        for module, rel in ((renderer.appearance_feature_extractor, weights.appearance),
                            (renderer.motion_extractor, weights.motion), (renderer.warping_module, weights.warping),
                            (renderer.spade_generator, weights.spade)):
            load_strict(module, load_state_dict(root / rel), root / rel)
        bundle = load_state_dict(root / weights.stitching)
        for module, name in ((renderer.stitching, "stitching"), (renderer.retarget_lip_net, "lip"),
                             (renderer.retarget_eye_net, "eye")):
            key = lpw.STITCHING_KEYS[name]
            if not isinstance(bundle, dict) or key not in bundle:
                raise BadInputError(f"{root / weights.stitching} has no '{key}' entry; is it the official file?")
            state = {k.removeprefix("module."): v for k, v in bundle[key].items()}
            load_strict(module, state, root / weights.stitching)
        renderer.device = torch.device(device)
        return renderer.to(renderer.device)

    @classmethod
    def cached(cls, root: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
               cache=None, weights: lpw.WeightSet = lpw.KWAIVGI, placement: str = "resident") -> LivePortraitRenderer:
        """The renderer for (root, device, dtype, weight set) from the shared model cache, loading it on first use
        (on the CPU) and placed on ``device`` as ``placement`` says (``core.cache``; the job's ``ctx.placement``).
        ``renderer.device`` is where it computes, wherever its weights wait."""
        from core.cache import default_cache

        device = torch.device(device)
        key = ("liveportrait", weights.name, str(device), str(dtype), str(Path(root).resolve()))

        def load() -> LivePortraitRenderer:
            renderer = cls.from_checkpoints(root, "cpu", dtype, weights=weights)
            renderer.device = device
            return renderer

        return (cache or default_cache()).get(key, load, placement, device)

    # ------------------------------------------------------------------------------------------- inference
    def _autocast(self):
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    @torch.no_grad()
    def keypoint_info(self, img256: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, 256, 256) in [0, 1] -> pitch/yaw/roll (B,) degrees, t (B, 3), exp and kp (B, 21, 3), scale (B, 1)."""
        with self._autocast():
            raw = self.motion_extractor(img256.to(self.device))
        raw = {k: v.float() for k, v in raw.items()}
        b = img256.shape[0]
        return {
            "pitch": bins_to_degrees(raw["pitch"]), "yaw": bins_to_degrees(raw["yaw"]),
            "roll": bins_to_degrees(raw["roll"]), "t": raw["t"], "scale": raw["scale"],
            "exp": raw["exp"].reshape(b, -1, 3), "kp": raw["kp"].reshape(b, -1, 3),
        }

    @torch.no_grad()
    def extract_source(self, img256: torch.Tensor) -> SourceState:
        """Source crop (1, 3, 256, 256) in [0, 1] -> feature volume, pose, keypoints and x_s."""
        if img256.ndim != 4 or tuple(img256.shape) != (1, 3, 256, 256):
            raise BadInputError(f"the source crop must be a (1, 3, 256, 256) tensor, got {tuple(img256.shape)}")
        img256 = img256.to(self.device, torch.float32)
        with self._autocast():
            f_s = self.appearance_feature_extractor(img256)
        info = self.keypoint_info(img256)
        rot = rotation_matrix(info["pitch"], info["yaw"], info["roll"])
        x_s = transform_keypoints(info["kp"], rot, info["exp"], info["scale"], info["t"])
        return SourceState(f_s=f_s.float(), rotation=rot, x_s=x_s, **info)

    @staticmethod
    def compose_keypoints(source: SourceState, exp: torch.Tensor, pitch: torch.Tensor, yaw: torch.Tensor,
                          roll: torch.Tensor, t: torch.Tensor, scale: torch.Tensor | None = None,
                          translate_z: bool = False) -> torch.Tensor:
        """Driving keypoints x_d = s * (x_c @ R(pitch, yaw, roll) + exp) + [tx, ty, 0] for a batch of motions
        (+ [tx, ty, tz] with ``translate_z``, as the reference's image retargeting; see ``camera.transform_keypoints``).

        exp (B, 21, 3) or (B, 63); angles (B,) degrees; t (B, 3); scale (B,) or None for the source scale.
        """
        b = exp.shape[0]
        rot = rotation_matrix(pitch, yaw, roll)
        s = source.scale.expand(b, 1) if scale is None else scale
        return transform_keypoints(source.kp.expand(b, -1, -1), rot, exp, s, t, translate_z)

    @torch.no_grad()
    def stitch(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        """Stitching: x_d (B, K, 3) + the MLP's keypoint offsets and a shared (dx, dy) shift; x_s may be batch 1."""
        b, k = x_d.shape[:2]
        feat = torch.cat([x_s.expand(b, -1, -1).reshape(b, -1), x_d.reshape(b, -1)], dim=1).float()
        delta = self.stitching(feat)
        shift = F.pad(delta[:, 3 * k:3 * k + 2], (0, 1)).view(b, 1, 3)
        return x_d + delta[:, :3 * k].view(b, k, 3) + shift

    @torch.no_grad()
    def retarget_lip(self, x_s: torch.Tensor, lip_ratio: torch.Tensor) -> torch.Tensor:
        """Lip retargeting offsets (B, K, 3) from x_s and [source lip ratio, target lip ratio] (B, 2)."""
        b = lip_ratio.shape[0]
        feat = torch.cat([x_s.expand(b, -1, -1).reshape(b, -1), lip_ratio.float()], dim=1)
        return self.retarget_lip_net(feat).view(b, -1, 3)

    @torch.no_grad()
    def retarget_eye(self, x_s: torch.Tensor, eye_ratio: torch.Tensor) -> torch.Tensor:
        """Eye retargeting offsets (B, K, 3) from x_s and [left, right source ratios, target ratio] (B, 3)."""
        b = eye_ratio.shape[0]
        feat = torch.cat([x_s.expand(b, -1, -1).reshape(b, -1), eye_ratio.float()], dim=1)
        return self.retarget_eye_net(feat).view(b, -1, 3)

    @torch.no_grad()
    def warp_decode(self, f_s: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        """One batch: warp f_s from x_s to x_d (B, K, 3) and decode -> (B, 3, 512, 512) fp32 in [0, 1]."""
        b = x_d.shape[0]
        with self._autocast():
            warped = self.warping_module(f_s.expand(b, -1, -1, -1, -1), kp_driving=x_d,
                                         kp_source=x_s.expand(b, -1, -1))
            out = self.spade_generator(warped["out"])
        return out.float()

    def render(self, source: SourceState, x_d: torch.Tensor, batch_size: int = 25) -> torch.Tensor:
        """Driving keypoints (B, K, 3) -> frames (B, 3, 512, 512) fp32 in [0, 1], `batch_size` frames per pass.

        Callers stream long clips by passing one chunk at a time; the result of one call is held in memory.
        """
        if x_d.ndim != 3 or x_d.shape[1:] != source.x_s.shape[1:]:
            raise BadInputError(f"driving keypoints must be (B, {source.x_s.shape[1]}, 3), got {tuple(x_d.shape)}")
        x_d = x_d.to(self.device, torch.float32)
        chunks = [self.warp_decode(source.f_s, source.x_s, part) for part in x_d.split(max(1, batch_size))]
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

