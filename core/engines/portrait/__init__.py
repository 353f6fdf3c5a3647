"""Animate a photo: MoDA motion diffusion (``moda/``) driving the shared LivePortrait renderer (``core.liveportrait``).

``from core.engines.portrait import PortraitRequest, run, preview``.

Deviation from MoDA: rest on silence (default ``rest="on"``; ``--rest off`` is the reference, where every frame
follows the generated motion). Where silero-vad finds no speech, the lips ease into the photo's own lip rows and
LivePortrait's lip retargeting closes them (``core.liveportrait.rest``); head motion, blinks and the rest of the
expression continue.
"""
from .pipeline import preview, run
from .request import PortraitRequest

__all__ = ["PortraitRequest", "preview", "run"]
