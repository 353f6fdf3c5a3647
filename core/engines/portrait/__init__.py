"""Animate a photo: MoDA motion diffusion (``moda/``) driving the shared LivePortrait renderer (``core.liveportrait``).

``from core.engines.portrait import PortraitRequest, run, preview``.
"""
from .pipeline import preview, run
from .request import PortraitRequest

__all__ = ["PortraitRequest", "preview", "run"]
