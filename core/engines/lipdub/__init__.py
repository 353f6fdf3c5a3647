"""Lip-dub engine: MuseTalk 1.5 / 1.0 on any video or photo, streaming, with a prepared-video cache."""
from .engine import ENGINE, preview, run
from .request import LipdubRequest

__all__ = ["ENGINE", "LipdubRequest", "preview", "run"]
