"""Emotion timeline: segments of the audio, each an emotion (none or one of MoDA's 8) with a strength.

MoDA generates motion in 80-frame chunks (stride 64, 16 frames blended), and its emotion is one label per
forward pass, so the timeline is applied per chunk: a chunk takes the segment that covers most of its frames
(ties go to the earlier segment; frames no segment covers count as "none"). Where two consecutive chunks differ,
their 16-frame overlap crossfades over `crossfade` frames (1..16; 16 = MoDA's own overlap blend). Finer changes
than a chunk (2.56 s at 25 fps) are not possible without leaving the model's training distribution; the chunk
boundaries are reported by `chunk_spans` so the UI can show them.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from core.moda import motion as M
from core.errors import BadInputError

MAX_STRENGTH = 20.0


@dataclass(frozen=True)
class Segment:
    start: float      # seconds
    end: float        # seconds, > start (inf: to the end; a row without "end" means that)
    emotion: str      # "none" or one of moda.motion.EMOTIONS
    strength: float   # emotion guidance on top of the audio guidance (0 = the label alone)

    @property
    def emotion_id(self) -> int:
        return M.emotion_id(self.emotion)


@dataclass(frozen=True)
class Timeline:
    segments: tuple[Segment, ...] = ()
    crossfade: int = M.OVERLAP

    @classmethod
    def make(cls, segments: Iterable[Segment | dict], crossfade: int = M.OVERLAP) -> Timeline:
        """Validated timeline from segments or dicts with start, end, emotion, strength (default 0)."""
        segs = []
        for i, s in enumerate(segments):
            if isinstance(s, dict):
                try:
                    end = s.get("end")
                    s = Segment(float(s["start"]), math.inf if end is None else float(end),
                                str(s.get("emotion", "none")), float(s.get("strength", 0.0)))
                except (KeyError, TypeError, ValueError) as exc:
                    raise BadInputError(f"timeline segment {i + 1}: needs start (seconds), end, emotion, "
                                        f"strength ({exc})") from exc
            segs.append(s)
        segs.sort(key=lambda s: s.start)
        for s in segs:
            if not 0 <= s.start < s.end:
                raise BadInputError(f"timeline segment {s.start}-{s.end} s: start must be 0 or more and before the end")
            if not 0 <= s.strength <= MAX_STRENGTH:
                raise BadInputError(f"emotion strength must be 0..{MAX_STRENGTH}, got {s.strength}")
            try:
                M.emotion_id(s.emotion)
            except ValueError as exc:
                raise BadInputError(str(exc)) from exc
        for a, b in pairwise(segs):
            if b.start < a.end:
                raise BadInputError(f"timeline segments {a.start}-{a.end} s and {b.start}-{b.end} s overlap")
        if not 1 <= int(crossfade) <= M.OVERLAP:
            raise BadInputError(f"crossfade must be 1..{M.OVERLAP} frames, got {crossfade}")
        return cls(tuple(segs), int(crossfade))

    @classmethod
    def from_data(cls, data: list | dict | None, crossfade: int | None = None) -> Timeline:
        """A list of segments or {segments, crossfade} (a YAML file's content) -> validated Timeline;
        ``crossfade`` overrides the data's."""
        if not data:
            return cls.make([], **({} if crossfade is None else {"crossfade": crossfade}))
        if isinstance(data, dict):
            segments, given = data.get("segments") or [], data.get("crossfade")
        elif isinstance(data, list):
            segments, given = data, None
        else:
            raise BadInputError("a timeline is a list of {start, end, emotion, strength} rows")
        fade = crossfade if crossfade is not None else given
        return cls.make(segments, **({} if fade is None else {"crossfade": int(fade)}))

    def frame_condition(self, frame: int, fps: float) -> tuple[int, float]:
        """(emotion id, strength) of the segment covering frame `frame` (start <= t < end), else (none, 0)."""
        t = frame / fps
        for s in self.segments:
            if s.start <= t < s.end:
                return s.emotion_id, s.strength
        return M.NO_EMOTION, 0.0

    def chunk_conditions(self, frames: int, fps: float) -> list[tuple[int, float]]:
        """One (emotion id, strength) per MoDA chunk of a `frames`-long generation: the majority over the
        chunk's real frames, ties to the earliest-starting condition."""
        out = []
        for start, end in chunk_spans(frames):
            counts: dict[tuple[int, float], int] = {}
            for f in range(start, end):
                key = self.frame_condition(f, fps)
                counts[key] = counts.get(key, 0) + 1
            out.append(max(counts, key=counts.__getitem__))  # dicts keep insertion order: ties -> earliest
        return out


def chunk_spans(frames: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges of MoDA's chunks over `frames` frames (the last one clipped)."""
    plan = M.ChunkPlan(frames)
    return [(a, min(b, frames)) for a, b in (plan.window(i) for i in range(plan.chunks))]
