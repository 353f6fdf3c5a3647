"""Face-edit sliders as additive offsets on LivePortrait's 21x3 expression keypoints and the head pose.

Every slider is linear in its value (two are piecewise linear with a different table for negative values), so
a set of slider values maps to `exp_delta` (B, 21, 3) and `pose_delta` (B, 3) = (pitch, yaw, roll) degrees that
are *added* to whatever expression and pose drive a frame: the source's own (still-photo edit), MoDA's generated
motion (photo + audio) or a video frame's extracted motion. Amounts per unit are the reference's:

- AdvancedLivePortrait `calc_fe` (PowerHouseMan/ComfyUI-AdvancedLivePortrait, nodes.py): smile, aaa, eee, woo,
  wink, gaze (pupil) x/y, blink, eyebrow, and the head rotations. Its couplings are kept: aaa also tilts pitch by
  -0.05 deg per unit, wink turns roll and yaw by -0.1 deg per unit, and gaze y also moves the blink keypoints by
  -v/2 blink units. The user's yaw is negated before it is added, as that node does.
- LivePortrait's retargeting tab (KwaiVGI/LivePortrait, gradio_pipeline.py): lip open ("lip close <-> open"),
  pouting, pursing and the x/y head shift (its x shift is negated on input as there). Pursing moves the same
  entries as woo (AdvancedLivePortrait copied it); both names are kept for users of either tool.

Deviation: AdvancedLivePortrait composes x_d = s * ((x_c + exp) @ R) + t (the expression rotates with the head);
we keep LivePortrait/MoDA's x_d = s * (x_c @ R + exp) + t so one set of offsets means the same on every path.

`transfer_delta` copies expression and/or pose from a reference photo (AdvancedLivePortrait `sample_parts` with
`sample_ratio`), `neutralize` scales the source expression (`src_ratio`, keypoint 5 kept), and
`retarget_offsets` runs the eye/lip retargeting MLPs the way LivePortrait's retargeting tab does.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from core.errors import BadInputError

X, Y, Z = 0, 1, 2
PITCH, YAW, ROLL = 0, 1, 2
NUM_KP = 21

Term = tuple[int, int, float]  # (keypoint, axis, amount per unit)


@dataclass(frozen=True)
class Slider:
    """One edit control. `terms` apply for v >= 0 (and for v < 0 unless `negative` is given); `pose` are degrees
    per unit added to (pitch, yaw, roll); `couple` feeds `factor * v` into another slider (the reference's
    gaze-y -> blink coupling)."""

    name: str
    label: str
    group: str            # "mouth", "eyes", "brows" or "head"
    lo: float
    hi: float
    step: float
    terms: tuple[Term, ...] = ()
    negative: tuple[Term, ...] | None = None
    pose: tuple[tuple[int, float], ...] = ()
    couple: tuple[str, float] | None = None


SLIDERS: tuple[Slider, ...] = (
    # ---- mouth
    Slider("smile", "smile", "mouth", -0.3, 1.3, 0.01, terms=(
        (20, Y, -0.01), (14, Y, -0.02), (17, Y, 0.0065), (17, Z, 0.003),
        (13, Y, -0.00275), (16, Y, -0.00275), (3, Y, -0.0035), (7, Y, -0.0035))),
    Slider("aaa", "aaa (open jaw)", "mouth", -30, 120, 1, terms=(
        (19, Y, 0.001), (19, Z, 0.0001), (17, Y, -0.0001)), pose=((PITCH, -0.05),)),
    Slider("eee", "eee (wide)", "mouth", -20, 15, 0.2, terms=((20, Z, -0.001), (20, Y, -0.001), (14, Y, -0.001))),
    Slider("woo", "woo (round)", "mouth", -20, 15, 0.2, terms=(
        (14, Y, 0.001), (3, Y, -0.0005), (7, Y, -0.0005), (17, Z, -0.0005))),
    Slider("lip_open", "lip close <-> open", "mouth", -90, 120, 1, terms=(
        (19, Y, 0.001), (19, Z, 0.0001), (17, Y, -0.0001))),
    Slider("pouting", "pouting", "mouth", -0.09, 0.09, 0.01, terms=((19, X, 1.0),)),
    Slider("pursing", "pursing", "mouth", -20, 15, 0.2, terms=(
        (14, Y, 0.001), (3, Y, -0.0005), (7, Y, -0.0005), (17, Z, -0.0005))),
    # ---- eyes
    Slider("wink", "wink", "eyes", 0, 25, 0.5, terms=(
        (11, Y, 0.001), (13, Y, -0.0003), (17, X, 0.0003), (17, Y, 0.0003), (3, Y, -0.0003)),
        pose=((ROLL, -0.1), (YAW, -0.1))),
    Slider("gaze_x", "gaze left/right", "eyes", -15, 15, 0.5,
           terms=((11, X, 0.0007), (15, X, 0.001)), negative=((11, X, 0.001), (15, X, 0.0007))),
    Slider("gaze_y", "gaze up/down", "eyes", -15, 15, 0.5, terms=((11, Y, -0.001), (15, Y, -0.001)),
           couple=("blink", -0.5)),
    Slider("blink", "blink (close <-> open)", "eyes", -20, 5, 0.5, terms=(
        (11, Y, -0.001), (15, Y, -0.001), (13, Y, 0.0003), (16, Y, 0.0003), (1, Y, -0.00025), (2, Y, 0.00025))),
    # ---- brows
    Slider("eyebrow", "eyebrow", "brows", -10, 15, 0.5, terms=((1, Y, 0.001), (2, Y, -0.001)),
           negative=((1, X, -0.001), (2, X, 0.001), (1, Y, 0.0003), (2, Y, -0.0003))),
    # ---- head
    Slider("pitch", "head pitch (deg)", "head", -20, 20, 0.5, pose=((PITCH, 1.0),)),
    Slider("yaw", "head yaw (deg)", "head", -20, 20, 0.5, pose=((YAW, -1.0),)),
    Slider("roll", "head roll (deg)", "head", -20, 20, 0.5, pose=((ROLL, 1.0),)),
    Slider("move_x", "head shift x", "head", -0.19, 0.19, 0.01, terms=((5, X, -1.0),)),
    Slider("move_y", "head shift y", "head", -0.19, 0.19, 0.01, terms=((5, Y, 1.0),)),
)
SLIDER_BY_NAME: dict[str, Slider] = {s.name: s for s in SLIDERS}
GROUPS = ("mouth", "eyes", "brows", "head")

# AdvancedLivePortrait sample_parts: keypoint rows copied from the reference photo.
MOUTH_ROWS = (14, 17, 19, 20)
EYE_ROWS = (1, 2, 11, 13, 15, 16)
TRANSFER_PARTS = ("expression", "rotation", "mouth", "eyes", "all")
RATIO_RANGE = (0.0, 0.8)  # target eyes-open / lip-open ratios of LivePortrait's retargeting tab


def check_values(values: Mapping[str, object]) -> None:
    """One-line BadInputError for an unknown slider name, a non-number, or a plain number outside its slider's own
    range (``lo..hi``, the range the tab's slider offers). Per-frame tensors (keyframe tracks plus auto blinks, already
    checked as keyframes) are not range-checked."""
    for name, v in values.items():
        if name not in SLIDER_BY_NAME:
            raise BadInputError(f"unknown face edit {name!r}; choose from {', '.join(SLIDER_BY_NAME)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not torch.is_tensor(v):
            raise BadInputError(f"face edit {name} must be a number, got {v!r}")
        s = SLIDER_BY_NAME[name]
        if not torch.is_tensor(v) and not s.lo <= v <= s.hi:
            raise BadInputError(f"face edit {name}={v:g} is outside the '{s.label}' slider's range {s.lo:g}..{s.hi:g}")


def edit_deltas(values: Mapping[str, float | torch.Tensor], batch: int = 1
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Slider values (floats, or (B,) tensors for per-frame keyframed values) -> (exp_delta (B, 21, 3),
    pose_delta (B, 3) degrees pitch/yaw/roll), fp32 on the CPU. Missing sliders are 0."""
    check_values(values)
    vals = {k: torch.as_tensor(v, dtype=torch.float32).reshape(-1) for k, v in values.items()}
    if vals:
        batch = max(batch, *(v.numel() for v in vals.values()))
    vals = {k: v.expand(batch) for k, v in vals.items()}
    for s in SLIDERS:  # couplings first: gaze_y adds -v/2 to blink, as calc_fe does before applying blink
        if s.couple is not None and s.name in vals:
            target, factor = s.couple
            vals[target] = vals.get(target, torch.zeros(batch)) + factor * vals[s.name]
    exp = torch.zeros(batch, NUM_KP, 3)
    pose = torch.zeros(batch, 3)
    for name, v in vals.items():
        s = SLIDER_BY_NAME[name]
        pos = v.clamp(min=0) if s.negative is not None else v
        for kp, axis, amount in s.terms:
            exp[:, kp, axis] += pos * amount
        if s.negative is not None:
            neg = v.clamp(max=0)
            for kp, axis, amount in s.negative:
                exp[:, kp, axis] += neg * amount
        for angle, amount in s.pose:
            pose[:, angle] += v * amount
    return exp, pose


def neutralize(source_exp: torch.Tensor, ratio: float) -> torch.Tensor:
    """AdvancedLivePortrait `src_ratio`: the source expression scaled by `ratio` except keypoint 5 (head position),
    which is kept. (B, 21, 3) -> (B, 21, 3)."""
    out = source_exp * ratio
    out[:, 5] = source_exp[:, 5]
    return out


def transfer_delta(sample_exp: torch.Tensor, sample_pose: torch.Tensor, parts: str, ratio: float
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """AdvancedLivePortrait `sample_parts` / `sample_ratio`: offsets taken from a reference photo's keypoint info.

    sample_exp (1, 21, 3) and sample_pose (1, 3) degrees as extracted; keypoint 5's x and y are zeroed first (so the
    reference's head position never moves the face). "expression": every row; "mouth": rows 14, 17, 19, 20;
    "eyes": rows 1, 2, 11, 13, 15, 16; "rotation": the reference's pitch/yaw/roll; "all": expression + rotation.
    Like the reference these are added to the source's own values (use `neutralize` with ratio 0 to copy).
    """
    if parts not in TRANSFER_PARTS:
        raise BadInputError(f"transfer part {parts!r} unknown; choose from {', '.join(TRANSFER_PARTS)}")
    e = sample_exp.reshape(1, NUM_KP, 3).float().clone()
    e[:, 5, :2] = 0
    exp = torch.zeros_like(e)
    pose = torch.zeros(1, 3)
    if parts in ("expression", "all"):
        exp = e * ratio
    elif parts in ("mouth", "eyes"):
        rows = list(MOUTH_ROWS if parts == "mouth" else EYE_ROWS)
        exp[:, rows] = e[:, rows] * ratio
    if parts in ("rotation", "all"):
        pose = sample_pose.reshape(1, 3).float() * ratio
    return exp, pose


@dataclass(frozen=True)
class RetargetTargets:
    """Target eyes-open / lip-open ratios (0..0.8) or None to leave the feature alone."""

    eyes: float | None = None
    lips: float | None = None

    def __post_init__(self):
        lo, hi = RATIO_RANGE
        for name, v in (("eyes-open", self.eyes), ("lip-open", self.lips)):
            if v is not None and not lo <= v <= hi:
                raise BadInputError(f"target {name} ratio must be {lo}..{hi}, got {v}")


def retarget_offsets(renderer, x_s: torch.Tensor, eye_ratios, lip_ratio: float, targets: RetargetTargets,
                     batch: int = 1) -> torch.Tensor:
    """Keypoint offsets (B, 21, 3) to add to x_d before stitching, as LivePortrait's retargeting tab: the eye MLP
    runs on [left, right source eye ratios, target] and the lip MLP on [source lip ratio, target], each only when
    its target differs from the source's ratio rounded to two decimals (LivePortrait compares rounded slider
    values). Neither MLP runs when its target is None, and the offsets are zero then."""
    out = torch.zeros(batch, NUM_KP, 3, device=x_s.device)
    left, right = (float(v) for v in eye_ratios)
    if targets.eyes is not None and round(targets.eyes, 2) != round((left + right) / 2, 2):
        feat = torch.tensor([[left, right, float(targets.eyes)]], device=x_s.device).expand(batch, 3)
        out = out + renderer.retarget_eye(x_s, feat)
    if targets.lips is not None and round(targets.lips, 2) != round(float(lip_ratio), 2):
        feat = torch.tensor([[float(lip_ratio), float(targets.lips)]], device=x_s.device).expand(batch, 2)
        out = out + renderer.retarget_lip(x_s, feat)
    return out
