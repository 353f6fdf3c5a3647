"""Photo + audio: MoDA motion with the emotion timeline (per-chunk emotion and strength, crossfaded changes).

This follows the portrait engine's `generate_motion` step for step (HuBERT features, identity rescale and
normalisation, chunked sampling, lip modulation against the appended silence, denormalisation) and differs only
in handing the generator one (emotion, strength) per chunk. Models come from the portrait engine's loader, so the
two tabs share one DiT and one HuBERT in the model cache.
"""
from __future__ import annotations

import numpy as np
import torch

from core.engines.portrait.moda import motion as M
from core.engines.portrait.moda.audio import FPS, LIP_REFERENCE, SILENT_FRAMES, AudioFeatures, prepare_waveform
from core.engines.portrait.moda.generator import MotionSettings
from core.errors import BadInputError

from .timeline import Timeline


def generate_motion(root, source, speech: np.ndarray, frames_out: int, device: torch.device, ctx,
                    timeline: Timeline, cfg_scale: float, steps: int, seed: int, smoothing: int) -> torch.Tensor:
    """Denormalised motion (frames_out, 70) for `source` driven by 16 kHz `speech`, emotions from `timeline`."""
    from core.engines.portrait import pipeline as portrait

    gen, enc = portrait._models(root, device)
    if not gen.null_audio_from_checkpoint:
        ctx.warn(portrait.NULL_AUDIO_NOTE)
    features = AudioFeatures(enc, prepare_waveform(speech))
    if features.frames <= SILENT_FRAMES:
        raise BadInputError("the audio is shorter than one video frame (40 ms): nothing to animate")

    def timed_features(start: int, end: int) -> torch.Tensor:
        with ctx.stage("audio features"):
            out = features(start, end)
        ctx.check_cancelled()
        return out

    def on_chunk(done: int, total: int) -> None:
        ctx.count(done, total, "motion", "chunks")
        ctx.check_cancelled()

    source_raw = source.motion_vector()[0].float().cpu()
    ratio = M.rescale_ratio(float(source_raw[M.SCALE]))
    settings = MotionSettings(cfg_scale=cfg_scale, steps=steps, seed=seed, smooth_window=smoothing)
    # the silence MoDA appends lies past the audio: its chunks take the timeline's condition there ("none")
    emotions = timeline.chunk_conditions(features.frames, FPS)
    with ctx.stage("motion"):
        norm = gen.generate(timed_features, features.frames, source.kp.reshape(-1).cpu(),
                            M.normalize(source_raw, ratio), settings, on_chunk, emotions=emotions,
                            crossfade_frames=timeline.crossfade)
    norm = M.modulate_lip(norm, -LIP_REFERENCE)[:-SILENT_FRAMES]
    raw = M.denormalize(norm, ratio)
    if raw.shape[0] < frames_out:  # the audio's last partial frame: hold the last pose
        raw = torch.cat([raw, raw[-1:].expand(frames_out - raw.shape[0], -1)])
    return raw[:frames_out]
