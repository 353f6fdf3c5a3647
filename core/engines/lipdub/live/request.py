"""The live request: the lip-dub request (idle video, face choice, mask, model) plus what a session adds.

The driving audio is not part of it: it arrives over time (``Session.push``). ``audio`` and ``output`` stay for the
CLI's file-fed session (``python -m core live --audio speech.wav --out live.mp4``), which is a test harness for the
same session the browser drives.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.engines.lipdub.request import LipdubRequest
from core.errors import BadInputError
from core.engines.lipdub.live.features import LOOKAHEAD_S
from core.media import probe
from core.spec import param

MAX_IDLE_S = 20.0  # the idle loop is held in memory: a few seconds is what it needs


@dataclass(kw_only=True)
class LiveRequest(LipdubRequest):
    """An idle video (or photo) to loop and lip-dub with audio that arrives while the session runs."""

    lookahead_ms: int = param(round(LOOKAHEAD_S * 1000), "Look-ahead", "audio waited for past a frame's start "
                              "before it is drawn (MuseTalk's window reaches 120 ms ahead)", range=(120, 1000),
                              step=10, unit="ms", group="advanced")
    idle_timeout_s: float = param(30.0, "Idle timeout", "a session that gets no audio for this long ends and frees "
                                  "the GPU", range=(1, 600), unit="s", group="advanced")
    batch_size: int = param(4, "Batch size", "frames per UNet call at most (a push draws all the frames that are "
                            "ready)", range=(1, 64), step=1, group="advanced")

    needs_audio = False

    def check(self) -> None:
        super().check()
        if not 120 <= int(self.lookahead_ms) <= 1000:
            raise BadInputError(f"look-ahead must be 120..1000 ms, got {self.lookahead_ms}")
        if not 1 <= float(self.idle_timeout_s) <= 600:
            raise BadInputError(f"idle timeout must be 1..600 s, got {self.idle_timeout_s}")
        info = probe(self.video)
        if info.kind == "video" and info.duration and info.duration > MAX_IDLE_S:
            raise BadInputError(f"the idle video {info.name} lasts {info.duration:.0f} s: a live session loops a "
                                f"few seconds (at most {MAX_IDLE_S:.0f} s); trim it")


REQUEST = LiveRequest
