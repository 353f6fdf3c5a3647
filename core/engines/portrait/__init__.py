"""Animate a photo: MoDA motion diffusion (``moda/``) driving the LivePortrait renderer (``liveportrait/``).

``from core.engines.portrait import PortraitRequest, run, preview`` (loaded lazily, so importing the weights
manifest stays light).
"""
from __future__ import annotations

__all__ = ["PortraitRequest", "preview", "run"]


def __getattr__(name: str):
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
