"""Expression-control manifest: the official LivePortrait files (rendering, retargeting MLPs, face crop) and, for
photo + audio, the portrait engine's MoDA files. Both are the same files the other engines use, at the same
paths, so nothing is downloaded twice. Still-photo and video edits need only the LivePortrait part
(`LIVEPORTRAIT_FILES`); the pipeline checks just those for them.
"""
from __future__ import annotations

from pathlib import Path

from core.engines.portrait import weights as PW
from core.liveportrait import weights as lpw
from core.weights import WeightFile

LIVEPORTRAIT_FILES: list[WeightFile] = list(lpw.FILES)
FILES: list[WeightFile] = LIVEPORTRAIT_FILES + list(PW.MODA_FILES)


def make_test_checkpoints(root: str | Path) -> None:
    """Tiny random weights in the official layouts (the portrait engine's writer covers both parts)."""
    PW.make_test_checkpoints(root)
