"""Plain data (CLI strings, YAML files, UI tables, request fields) -> edits, keyframes and timelines.

Formats (YAML, read with `yaml.safe_load`, never pickles):
- edits: "smile=0.6,yaw=10" on the command line, a mapping {smile: 0.6, yaw: 10} in a file or request.
- keyframes: a list of rows {time: seconds, easing: linear | ease-in-out | hold (optional), <slider>: value, ...}.
- timeline: a list of rows {start, end, emotion, strength}, or a mapping {segments: [...], crossfade: frames}.
"""
from __future__ import annotations

import math
from typing import Any

from core.errors import BadInputError
from core.liveportrait.expression import check_values
from core.moda.timeline import Segment, Timeline

from .keyframes import Keyframe


def parse_edits(text: str | dict | None) -> dict[str, float]:
    """'smile=0.6,yaw=10' (or a mapping) -> {'smile': 0.6, 'yaw': 10.0}; names are checked."""
    if not text:
        return {}
    if isinstance(text, dict):
        pairs = list(text.items())
    else:
        pairs = []
        for part in (p.strip() for p in str(text).split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise BadInputError(f"face edit {part!r}: write name=value, e.g. smile=0.6")
            pairs.append((name.strip(), value.strip()))
    out = {}
    for name, value in pairs:
        try:
            out[str(name)] = float(value)
        except (TypeError, ValueError):
            raise BadInputError(f"face edit {name} must be a number, got {value!r}") from None
    check_values(out)
    return out


def split_timeline(data: Any) -> tuple[list, Any]:
    """A timeline as a YAML file holds it -> (rows, crossfade or None): a list of rows, or a mapping
    {segments: [rows], crossfade: frames}. Anything else (a mapping without segments, a scalar) is one-line refused."""
    if data is None:
        return [], None
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        if not isinstance(data.get("segments"), list):
            raise BadInputError("a timeline mapping needs a 'segments' list of {start, end, emotion, strength} rows "
                                f"(found keys: {', '.join(map(str, data)) or 'none'})")
        return data["segments"], data.get("crossfade")
    raise BadInputError("a timeline is a list of {start, end, emotion, strength} rows")


def timeline_from_rows(rows: Any, crossfade: Any = None) -> Timeline:
    """Timeline rows {start, end, emotion, strength} (cells may be strings, as from a table or YAML) -> a validated
    Timeline; a cell that is not a number is named in one line. ``end`` empty = to the end; ``strength`` empty = 0."""
    rows, given = split_timeline(rows)
    segments = []
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise BadInputError(f"timeline row {i} must be a mapping {{start, end, emotion, strength}}, got {row!r}")
        start = _cell(row.get("start"), f"timeline row {i}: start", None)
        end = _cell(row.get("end"), f"timeline row {i}: end", math.inf)
        strength = _cell(row.get("strength"), f"timeline row {i}: strength", 0.0)
        segments.append(Segment(start, end, str(row.get("emotion") or "none"), strength))
    fade = crossfade if crossfade is not None else given
    if fade is None:
        return Timeline.make(segments)
    return Timeline.make(segments, int(_cell(fade, "timeline crossfade (frames)", None)))


def _cell(value: Any, what: str, default: float | None) -> float:
    """One number from a table or YAML cell; empty -> ``default`` (None: required)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise BadInputError(f"{what} is missing")
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{what} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise BadInputError(f"{what} must be a number, got {value!r}")
    return number


def keyframes_from_rows(rows: list[dict] | None) -> tuple[Keyframe, ...]:
    """Rows {time, easing?, slider: value...} -> validated keyframes (in time order)."""
    if not rows:
        return ()
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadInputError("keyframes must be a list of rows like {time: 1.5, smile: 0.6, easing: ease-in-out}")
    out = []
    for i, row in enumerate(rows):
        row = dict(row)
        if "time" not in row:
            raise BadInputError(f"keyframe {i + 1} has no time (seconds)")
        time, easing = row.pop("time"), row.pop("easing", "linear") or "linear"
        out.append(Keyframe.make(time, {k: v for k, v in row.items() if v is not None}, easing))
    return tuple(sorted(out, key=lambda k: k.time))


