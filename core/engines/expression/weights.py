"""Expression-control manifest: KwaiVGI's LivePortrait set for still-photo and video edits (LivePortrait's own
retargeting), and for photo + audio the portrait engine's files (MoDA's DiT, HuBERT and MoDA's own LivePortrait
copies, which render MoDA motion). Paths are the other engines', so nothing is downloaded twice, and byte-identical
LivePortrait copies are stored once after a download. Still-photo and video edits need only `EDIT_FILES`; the
pipeline checks just those for them.
"""
from __future__ import annotations

from pathlib import Path

from core.liveportrait import weights as lpw
from core.moda import weights as moda_weights
from core.weights import WeightFile

EDIT_WEIGHTS = lpw.KWAIVGI          # still-photo and video edits
AUDIO_WEIGHTS = lpw.MODA            # photo + audio: MoDA's LivePortrait copies, as the portrait engine renders
EDIT_FILES: list[WeightFile] = EDIT_WEIGHTS.files()
FILES: list[WeightFile] = EDIT_FILES + moda_weights.FILES + AUDIO_WEIGHTS.files()


def after_download(root: str | Path) -> list[str]:
    """Store byte-identical LivePortrait copies once (see ``core.liveportrait.weights.store_once``)."""
    return lpw.store_once(root, EDIT_WEIGHTS, AUDIO_WEIGHTS)


def make_test_checkpoints(root: str | Path) -> None:
    """Tiny random weights in the official layouts, written only when some are missing (the portrait engine's
    writer covers the same files): the shared files are never written twice."""
    if any(not (Path(root) / f.local).is_file() for f in FILES):
        moda_weights.make_test_checkpoints(root)
        lpw.make_test_moda_copies(root)
