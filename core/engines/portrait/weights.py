"""Portrait engine manifest: MoDA's motion generator and its LivePortrait copies (HF ``lixinyizju/moda``),
chinese-hubert-base.

Local paths are the MoDA weights repository's own, as its configs name them (``moda/net-200.pth``,
``audio/chinese-hubert-base/``, ``decode/v1/first_stage/...``). The photo engine renders MoDA motion, so it loads
MoDA's LivePortrait copies (``LIVEPORTRAIT``, i.e. ``core.liveportrait.weights.MODA``: pass it as ``weights=`` to
``LivePortraitRenderer.cached`` and ``FaceCropper.cached``); KwaiVGI's set stays for pure LivePortrait edits. Where
both sets are downloaded, byte-identical files are stored once (``after_download``). The encoder comes from its own Hub
repository (the same files as MoDA's copy).
"""
from __future__ import annotations

from pathlib import Path

from core.liveportrait import weights as lpw
from core.moda import weights as moda_weights
from core.weights import WeightFile

LIVEPORTRAIT = lpw.MODA
FILES: list[WeightFile] = moda_weights.FILES + LIVEPORTRAIT.files()


def after_download(root: str | Path) -> list[str]:
    """Hard-link MoDA's LivePortrait copies to KwaiVGI's where both are present and byte-identical (after a
    download of either engine); returns the MoDA paths now shared."""
    return lpw.store_once(root, lpw.KWAIVGI, LIVEPORTRAIT)


def make_test_checkpoints(root: str | Path) -> None:
    """Tiny DiT and HuBERT, and both LivePortrait sets: MoDA's a copy of KwaiVGI's, then stored once."""
    moda_weights.make_test_checkpoints(root)
    lpw.make_test_moda_copies(root)
