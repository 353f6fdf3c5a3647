"""Rest on silence for lip-dub: what the UNet sees, or which frames it skips, where nobody speaks.

A deviation from MuseTalk, which drives every frame with its audio window whatever it holds (its mouths mumble
through pauses, breaths and music: MuseTalk #32, #16, #52, #202). Rest (``AudioOptions.rest``):

- ``on``: on rest frames the UNet's audio prompt is the whisper features of *true silence* (digital zeros: one 30 s
  segment of zeros through the same encoder, read at the same rows, since whisper pads every segment with zeros
  and positions repeat per segment), blended with the frame's speech features by the rest weight
  (``core.audio.rest.rest_weights``: 0 on speech, smoothstep ramps of 3 frames inside each rest run, 1 beyond).
  Blending the prompts rather than the decoded faces keeps one UNet pass per frame and lets the model itself
  produce the in-between mouths; the prompts of speech frames are never touched. The LipSick fix users report
  (LipSick PR #30) replaces the features the same way, without the ramps.
- ``source`` (for re-voicing the same take): full rest frames are the source video's own frames, untouched (no UNet,
  no blend: byte-identical to the decoded source frame); ramp frames cross-fade the dubbed frame into the source
  frame by the rest weight, rounded to uint8.
- ``off``: MuseTalk's behaviour.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.audio.rest import rest_weights, speech_map_for

from .audio import SEGMENT_S, SR, WhisperFeatures, frame_count, row_count


class SilenceFeatures(WhisperFeatures):
    """Whisper prompts of digital silence for any frame of an ``n_samples`` clip: one zero segment, encoded once."""

    def __init__(self, n_samples: int, encoder, extractor, device, dtype, fps: float = 25):
        super().__init__(np.zeros(min(n_samples, SEGMENT_S * SR), np.float32), encoder, extractor, device, dtype, fps)
        self.rows, self.frames = row_count(n_samples), frame_count(n_samples, fps)  # the clip's, not the segment's

    def _segment(self, s: int) -> torch.Tensor:
        return super()._segment(0)


@dataclass
class LipRest:
    """The rest plan of one job: mode ("on" or "source") and the rest weight of every output frame."""

    mode: str
    weights: np.ndarray
    silence: SilenceFeatures | None = None

    def keeps_source(self, i: int) -> bool:
        """True where output frame ``i`` is the source frame itself (source mode, full rest)."""
        return self.mode == "source" and self.weights[i] >= 1.0

    def prompts(self, feats: WhisperFeatures, frames: list[int]) -> torch.Tensor:
        """[B, 50, 384] audio prompts: speech features, moved toward silence's by the rest weight (mode "on")."""
        speech = feats(frames)
        w = self.weights[np.asarray(frames)]
        if self.mode != "on" or not w.any():
            return speech
        silent = self.silence(frames)
        w = torch.from_numpy(w).to(speech.device, speech.dtype)[:, None, None]
        return speech + (silent - speech) * w

    def crossfade(self, dubbed: np.ndarray, source: np.ndarray, frames: list[int]) -> np.ndarray:
        """Source mode: dubbed ramp frames moved toward the source frames by the rest weight (in place; uint8)."""
        if self.mode != "source":
            return dubbed
        for k, i in enumerate(frames):
            w = float(self.weights[i])
            if 0.0 < w < 1.0:
                dubbed[k] = np.round(dubbed[k] * (1.0 - w) + source[k].astype(np.float32) * w).astype(np.uint8)
        return dubbed


def plan(req, samples: np.ndarray, n_out: int, feats: WhisperFeatures, ctx) -> LipRest | None:
    """The job's rest plan from the driving ``samples`` (16 kHz), or None when rest is off."""
    speech = speech_map_for(req.audio, samples, SR, ctx, frames=n_out)
    if speech is None:
        return None
    weights = rest_weights(speech.rest)
    silence = None
    if req.audio.rest == "on":
        silence = SilenceFeatures(len(samples), feats.encoder, feats.extractor, feats.device, feats.dtype, feats.fps)
    rested = float((weights > 0).mean()) if weights.size else 0.0
    ctx.log(f"rest on silence ({req.audio.rest}): {rested:.0%} of frames rest or ramp")
    return LipRest(req.audio.rest, weights, silence)
