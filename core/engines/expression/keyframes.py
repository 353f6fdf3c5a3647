"""Face-edit keyframes: slider values at times, interpolated per frame with linear or ease-in-out easing.

Each slider is its own track: it is interpolated between the keyframes that set it, held at its first value
before the first of them and at its last value after the last, so a keyframe that sets only `smile` leaves the
other tracks alone. The easing of a keyframe shapes the approach *to* it from the previous keyframe of the same
track ("linear"; "ease-in-out" = (1 - cos(pi u)) / 2; "hold" = keep the previous value until this time).
AdvancedLivePortrait's command timeline (`idx=change:keep`) is the linear case: a ramp over `change` frames
followed by a hold.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise

import torch

from core.errors import BadInputError
from core.liveportrait.expression import check_values

EASINGS = ("linear", "ease-in-out", "hold")


def ease(u: torch.Tensor, easing: str) -> torch.Tensor:
    """Map progress u in [0, 1] to eased progress in [0, 1]."""
    if easing == "linear":
        return u
    if easing == "ease-in-out":
        return (1 - torch.cos(math.pi * u)) / 2
    if easing == "hold":
        return (u >= 1).to(u.dtype)
    raise BadInputError(f"unknown easing {easing!r}; choose from {', '.join(EASINGS)}")


@dataclass(frozen=True)
class Keyframe:
    time: float                           # seconds from the start of the output
    values: tuple[tuple[str, float], ...]  # slider name -> value set at this time
    easing: str = "linear"                # how the tracks approach this keyframe

    @classmethod
    def make(cls, time: float, values: Mapping[str, float], easing: str = "linear") -> Keyframe:
        if isinstance(time, bool) or not isinstance(time, (int, float)) or time < 0:
            raise BadInputError(f"keyframe time must be a number of seconds, 0 or more, got {time!r}")
        if easing not in EASINGS:
            raise BadInputError(f"unknown easing {easing!r}; choose from {', '.join(EASINGS)}")
        check_values(values)
        return cls(float(time), tuple((k, float(v)) for k, v in values.items()), easing)


def sorted_keyframes(keyframes: Iterable[Keyframe]) -> list[Keyframe]:
    """Keyframes in time order; two at the same time are an error."""
    out = sorted(keyframes, key=lambda k: k.time)
    for a, b in pairwise(out):
        if a.time == b.time:
            raise BadInputError(f"two keyframes at {a.time} s; merge them into one")
    return out


def interpolate(keyframes: Iterable[Keyframe], times: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-slider values (T,) at `times` (T,) seconds; only sliders some keyframe sets appear."""
    frames = sorted_keyframes(keyframes)
    times = torch.as_tensor(times, dtype=torch.float64)
    tracks: dict[str, list[tuple[float, float, str]]] = {}
    for kf in frames:
        for name, value in kf.values:
            tracks.setdefault(name, []).append((kf.time, value, kf.easing))
    out: dict[str, torch.Tensor] = {}
    for name, points in tracks.items():
        values = torch.full_like(times, points[0][1])
        for (t0, v0, _), (t1, v1, easing) in pairwise(points):
            inside = (times > t0) & (times <= t1)
            u = ((times - t0) / (t1 - t0)).clamp(0, 1)
            values = torch.where(inside, v0 + (v1 - v0) * ease(u, easing), values)
        values = torch.where(times > points[-1][0], torch.full_like(times, points[-1][1]), values)
        out[name] = values.float()
    return out
