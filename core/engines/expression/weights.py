"""Expression-control manifest: KwaiVGI's LivePortrait set for still-photo and video edits (LivePortrait's own
retargeting), and for photo + audio the portrait engine's files (MoDA's DiT, HuBERT and MoDA's own LivePortrait
copies, which render MoDA motion). Paths are the other engines', so nothing is downloaded twice, and byte-identical
LivePortrait copies are stored once after a download. Still-photo and video edits need only `EDIT_FILES`; the
pipeline checks just those for them.
"""
from __future__ import annotations

from pathlib import Path

from core.engines.portrait import weights as PW
from core.liveportrait import weights as lpw
from core.weights import WeightFile

EDIT_WEIGHTS = lpw.KWAIVGI          # still-photo and video edits
AUDIO_WEIGHTS = PW.LIVEPORTRAIT     # photo + audio: MoDA's LivePortrait copies, as the portrait engine renders
EDIT_FILES: list[WeightFile] = EDIT_WEIGHTS.files()
FILES: list[WeightFile] = EDIT_FILES + [f for f in PW.FILES if f.local not in {e.local for e in EDIT_FILES}]
after_download = PW.after_download


def make_test_checkpoints(root: str | Path) -> None:
    """Tiny random weights in the official layouts. The portrait engine's writer covers every file here (both
    LivePortrait sets), so it runs only when some are missing: the shared files are never written twice."""
    if any(not (Path(root) / f.local).is_file() for f in FILES):
        PW.make_test_checkpoints(root)
