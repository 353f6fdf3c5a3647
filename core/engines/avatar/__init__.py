"""A talking video of any length from one photo and speech: StableAvatar on Wan2.1-Fun 1.3B (``core.wan``), window by
window with bounded memory.

``from core.engines.avatar import AvatarRequest, run, preview``.
"""
from .pipeline import preview, run
from .request import AvatarRequest

__all__ = ["AvatarRequest", "preview", "run"]
