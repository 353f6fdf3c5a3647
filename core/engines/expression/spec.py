"""Plain data (CLI strings, YAML files, UI tables, request fields) -> edits, keyframes and timelines.

Formats (YAML, read with `yaml.safe_load`, never pickles):
- edits: "smile=0.6,yaw=10" on the command line, a mapping {smile: 0.6, yaw: 10} in a file or request.
- keyframes: a list of rows {time: seconds, easing: linear | ease-in-out | hold (optional), <slider>: value, ...}.
- timeline: a list of rows {start, end, emotion, strength}, or a mapping {segments: [...], crossfade: frames}.
"""
from __future__ import annotations

from core.errors import BadInputError
from core.liveportrait.expression import check_values

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


