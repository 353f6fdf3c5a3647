"""The 70-d motion vector MoDA generates, its normalisation, and the reference's chunk/blend/smooth/lip arithmetic.

Layout per frame: [0:63] expression offsets (21 keypoints x xyz, keypoint-major), [63] scale, [64:67] translation
(tz always 0), [67] pitch, [68] yaw, [69] roll in degrees. The model works on normalised vectors
(x - mean) / (std + 1e-5) with the dataset statistics below; scale and translation are first divided by the
identity ratio r = (s_src + 1e-5) / (mean_scale + 1e-5) so that every face looks like the average-sized one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

EXP_DIM = 63
MOTION_DIM = 70
SCALE, T_SLICE, POSE = 63, slice(64, 67), slice(67, 70)
EPS = 1e-5
CHUNK = 80                      # frames generated per DiT call
OVERLAP = min(16, CHUNK - 16)   # frames blended between consecutive chunks
STRIDE = CHUNK - OVERLAP        # 64
LIP_KEYPOINTS = (6, 12, 14, 17, 19, 20)

# Emotion labels of the DiT's embedding table (MEAD/AffectNet order); 8 = none (also the CFG null class).
EMOTIONS = ("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
NO_EMOTION = 8

# Dataset statistics of the 70-d vector (MoDA's mean/std over HDTF, JoyGen, talk, CelebV-Text and MEAD), float32.
_MEAN = [
    -5.373066e-4, -2.8794786e-4, 1.4796304e-6,  # kp 0
    -8.309042e-4, -6.504917e-4, -1.3769152e-6,  # kp 1
    3.8140552e-4, -9.800658e-4, 3.6486534e-7,  # kp 2
    5.8247722e-5, 7.388336e-4, 6.4939136e-6,  # kp 3
    9.479559e-4, 2.581425e-4, -1.9128402e-6,  # kp 4
    0.0029594125, -0.009061824, -1.4266176e-6,  # kp 5
    -9.108383e-6, 2.1539418e-5, -1.4140878e-7,  # kp 6
    6.1793404e-4, 3.1998748e-4, -3.7393634e-6,  # kp 7
    -8.127692e-5, -3.9220093e-5, -1.9572858e-6,  # kp 8
    7.343829e-5, -1.04900704e-4, -7.2258007e-7,  # kp 9
    -4.2219687e-4, -2.1092898e-4, -0.0011882777,  # kp 10
    9.344141e-4, 7.417855e-4, -2.0692883e-7,  # kp 11
    -2.5044923e-5, -2.0742447e-5, 1.777433e-7,  # kp 12
    -0.0026323348, -4.5149119e-4, 3.2777172e-7,  # kp 13
    3.5877872e-4, -9.2951616e-4, -4.0933497e-7,  # kp 14
    2.5385438e-4, 1.9967565e-4, -6.3589226e-7,  # kp 15
    6.593569e-4, 2.9743045e-5, -7.944887e-7,  # kp 16
    2.298229e-4, 0.002349943, -5.352265e-4,  # kp 17
    3.4578143e-6, 7.674099e-5, -5.665908e-7,  # kp 18
    5.443262e-4, -0.005648651, 2.306368e-4,  # kp 19
    -1.5249001e-5, 0.005663552, 6.0404616e-4,  # kp 20
    1.2864639, -0.013348804, 0.099949256, 0., -2.3406775, -0.24636494, -0.3269464,  # scale, t, pitch, yaw, roll
]
_STD = [
    0.010445683, 0.014202327, 5.0808798e-5,  # kp 0
    0.0056335144, 0.005995774, 3.598422e-6,  # kp 1
    0.0059341243, 0.0104294, 2.9826872e-6,  # kp 2
    0.006550385, 0.0063218465, 2.8880473e-5,  # kp 3
    0.008264485, 0.008423675, 2.6521564e-5,  # kp 4
    0.021994269, 0.032964505, 1.9371731e-5,  # kp 5
    0.0010748237, 0.002214597, 5.8407716e-7,  # kp 6
    0.0073561277, 0.006215148, 2.6271304e-5,  # kp 7
    9.564018e-4, 8.108699e-4, 5.1220527e-6,  # kp 8
    0.0011780645, 0.0013364771, 4.4465305e-6,  # kp 9
    0.007890012, 0.00928384, 0.0061119352,  # kp 10
    0.0028725879, 0.0059228186, 3.859117e-6,  # kp 11
    3.220592e-4, 3.538448e-4, 2.1425617e-6,  # kp 12
    0.0033358529, 0.004149026, 7.231573e-6,  # kp 13
    0.002542138, 0.0056735817, 9.3419095e-7,  # kp 14
    0.0027744288, 0.0054513947, 5.06622e-6,  # kp 15
    0.0025094072, 0.004155688, 1.00449415e-5,  # kp 16
    0.0036083262, 0.005293862, 0.0027351584,  # kp 17
    5.740327e-4, 0.0011892441, 1.1232217e-5,  # kp 18
    0.008320306, 0.021437943, 0.005128911,  # kp 19
    0.005244641, 0.010887774, 0.0041919127,  # kp 20
    0.0691297, 0.065770224, 0.03481454, 0., 8.881922, 23.855251, 5.60632,  # scale, t, pitch, yaw, roll
]
MOTION_MEAN = torch.tensor(_MEAN, dtype=torch.float32)
MOTION_STD = torch.tensor(_STD, dtype=torch.float32)


def emotion_id(name: str | None) -> int:
    """'none'/''/None -> 8, else the label's row in the DiT's emotion table."""
    key = (name or "none").strip().lower()
    if key == "none":
        return NO_EMOTION
    if key not in EMOTIONS:
        raise ValueError(f"unknown emotion {name!r}: choose none or one of {', '.join(EMOTIONS)}")
    return EMOTIONS.index(key)


def pack(exp: torch.Tensor, scale, t: torch.Tensor, pitch, yaw, roll) -> torch.Tensor:
    """Raw 70-d vector from LivePortrait keypoint info (pose in degrees); tz is forced to 0 as in MoDA."""
    t = torch.as_tensor(t, dtype=torch.float32).reshape(3).clone()
    t[2] = 0.0
    parts = [torch.as_tensor(exp, dtype=torch.float32).reshape(EXP_DIM),
             torch.as_tensor(scale, dtype=torch.float32).reshape(1), t,
             *(torch.as_tensor(a, dtype=torch.float32).reshape(1) for a in (pitch, yaw, roll))]
    return torch.cat(parts)


def rescale_ratio(source_scale: float) -> float:
    """Identity rescale r: scale and translation are stored as if the face had the dataset's mean scale."""
    return (float(source_scale) + EPS) / (float(MOTION_MEAN[SCALE]) + EPS)


def normalize(raw: torch.Tensor, ratio: float) -> torch.Tensor:
    """Raw 70-d vectors (..., 70) -> model space: scale and t divided by r, then (x - mean) / (std + 1e-5)."""
    x = raw.clone().float()
    x[..., SCALE] /= ratio
    x[..., T_SLICE] /= ratio
    return (x - MOTION_MEAN.to(x.device)) / (MOTION_STD.to(x.device) + EPS)


def denormalize(norm: torch.Tensor, ratio: float) -> torch.Tensor:
    """Inverse of ``normalize``: x * (std + 1e-5) + mean, then scale and t multiplied by r."""
    x = norm.float() * (MOTION_STD.to(norm.device) + EPS) + MOTION_MEAN.to(norm.device)
    x[..., SCALE] *= ratio
    x[..., T_SLICE] *= ratio
    return x


def smooth_pose(motion: torch.Tensor, window: int = 3) -> torch.Tensor:
    """Centred moving average over frames of the pose dims [63:70] only; edges average what exists.

    motion: (..., T, 70). Window 3 is the reference's; 1 disables smoothing.
    """
    if window <= 1:
        return motion
    half, n = window // 2, motion.shape[-2]
    pose = motion[..., EXP_DIM:]
    total = torch.zeros_like(pose)
    count = torch.zeros(n, 1, dtype=pose.dtype, device=pose.device)
    for off in range(-half, half + 1):  # add the neighbour at i + off wherever it exists
        lo, hi = max(0, -off), min(n, n - off)
        if lo < hi:
            total[..., lo:hi, :] += pose[..., lo + off:hi + off, :]
            count[lo:hi] += 1
    out = motion.clone()
    out[..., EXP_DIM:] = total / count
    return out


def blend_overlap(prev_tail: torch.Tensor, cur_head: torch.Tensor) -> torch.Tensor:
    """Cross-fade of OVERLAP frames: prev * (1 - k/16) + cur * k/16 for k = 0..15."""
    alpha = torch.arange(prev_tail.shape[-2], device=prev_tail.device, dtype=prev_tail.dtype) / prev_tail.shape[-2]
    alpha = alpha.unsqueeze(-1)
    return prev_tail * (1 - alpha) + cur_head * alpha


def modulate_lip(motion: torch.Tensor, ref_index: int, alpha: float = 5.0, beta: float = 0.1) -> torch.Tensor:
    """Exaggerate lip motion relative to a silent reference frame (normalised space, reference arithmetic).

    d_i = squared distance of the 18 lip values from the reference frame; each lip delta is multiplied by
    1 + (sigmoid(alpha * d_i) - 0.5) / (beta * max_i d_i + 0.05).
    """
    out = motion.clone()
    exps = out[:, :EXP_DIM].reshape(-1, 21, 3)
    ref = exps[ref_index].clone()
    lips = list(LIP_KEYPOINTS)
    deltas = exps[:, lips] - ref[lips]
    dist = deltas.pow(2).flatten(1).sum(-1, keepdim=True)
    weight = (torch.sigmoid(dist * alpha) - 0.5) / (dist.max() * beta + 0.05)
    exps[:, lips] = ref[lips] + deltas * (1 + weight.unsqueeze(-1))
    out[:, :EXP_DIM] = exps.reshape(-1, EXP_DIM)
    return out


@dataclass(frozen=True)
class ChunkPlan:
    """How T frames are covered by 80-frame windows with stride 64 (the last window padded with zero audio)."""

    frames: int

    @property
    def chunks(self) -> int:
        return 1 if self.frames <= CHUNK else math.ceil((self.frames - CHUNK) / STRIDE) + 1

    @property
    def padding(self) -> int:
        return CHUNK + STRIDE * (self.chunks - 1) - self.frames

    def window(self, i: int) -> tuple[int, int]:
        """Frame range [start, start + 80) of chunk i (may run past the end: those frames are padding)."""
        return i * STRIDE, i * STRIDE + CHUNK
