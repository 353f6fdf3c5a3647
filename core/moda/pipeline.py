"""MoDA motion for a LivePortrait source: audio -> HuBERT features -> motion DiT chunks -> denormalised motion.

Shared by the engines that animate a photo from speech (portrait, expression): one DiT and one HuBERT in the model
cache whichever engine asks.
"""
from __future__ import annotations

import numpy as np
import torch

from core.errors import BadInputError
from core.jobs import JobContext
from core.moda import motion as M
from core.moda import weights as MW
from core.moda.audio import FPS, LIP_REFERENCE, SILENT_FRAMES, AudioFeatures, HubertEncoder, prepare_waveform
from core.moda.generator import MotionGenerator, MotionSettings
from core.moda.timeline import Timeline

NULL_AUDIO_NOTE = ("CFG null-audio vector: net-200.pth holds none (the reference never registers one, so every "
                   "reference run draws a fresh random vector); ours is drawn from a fixed seed, so runs are "
                   "reproducible")


def _models(root, device: torch.device, placement: str = "resident") -> tuple[MotionGenerator, HubertEncoder]:
    """The motion DiT and HuBERT from the shared model cache, loaded on the CPU and placed on ``device`` as the
    job's memory profile says (``ctx.placement``; each wrapper computes on ``device`` wherever its weights wait)."""
    from core.cache import default_cache

    cache = default_cache()
    dit_path, hubert_dir = root / MW.DIT, root / MW.HUBERT_DIR
    gen = cache.get(("moda-dit", str(device), "fp32", str(dit_path)),
                    lambda: _computing_on(device, MotionGenerator.load(dit_path, "cpu")), placement, device)
    enc = cache.get(("chinese-hubert-base", str(device), "fp32", str(hubert_dir)),
                    lambda: _computing_on(device, HubertEncoder.load(hubert_dir, "cpu")), placement, device)
    return gen, enc


def _computing_on(device: torch.device, wrapper):
    wrapper.compute_on = torch.device(device)
    return wrapper


def generate_motion(root, source, speech: np.ndarray, frames_out: int, device: torch.device, ctx: JobContext,
                    settings: MotionSettings, timeline: Timeline | None = None) -> torch.Tensor:
    """Denormalised motion (frames_out, 70) for the source, following MoDA's ``driven_sample``.

    ``timeline`` (optional) gives each 80-frame chunk its own emotion and strength, crossfading changes; without
    it every chunk takes ``settings.emotion`` / ``settings.emotion_scale``. Shared by the portrait and expression
    engines (one DiT and one HuBERT in the model cache)."""
    gen, enc = _models(root, device, placement=ctx.placement)
    if not gen.null_audio_from_checkpoint:
        ctx.log(NULL_AUDIO_NOTE)
    features = AudioFeatures(enc, prepare_waveform(speech))
    if features.frames <= SILENT_FRAMES:
        raise BadInputError("the audio is shorter than one video frame (40 ms): nothing to animate")

    def timed_features(start: int, end: int) -> torch.Tensor:
        with ctx.stage("audio features"):  # nested in "motion": its time is not counted twice
            out = features(start, end)
        ctx.check_cancelled()
        return out

    def on_chunk(done: int, total: int) -> None:
        ctx.count(done, total, "motion", "chunks")
        ctx.check_cancelled()

    source_raw = source.motion_vector()[0].float().cpu()
    ratio = M.rescale_ratio(float(source_raw[M.SCALE]))
    # the silence MoDA appends lies past the audio: its chunks take the timeline's condition there ("none")
    per_chunk = {} if timeline is None else {"emotions": timeline.chunk_conditions(features.frames, FPS),
                                             "crossfade_frames": timeline.crossfade}
    with ctx.stage("motion"):
        norm = gen.generate(timed_features, features.frames, source.kp.reshape(-1).cpu(),
                            M.normalize(source_raw, ratio), settings, on_chunk, **per_chunk)
    norm = M.modulate_lip(norm, -LIP_REFERENCE)[:-SILENT_FRAMES]
    raw = M.denormalize(norm, ratio)
    if raw.shape[0] < frames_out:  # the audio's last partial frame: hold the last pose
        raw = torch.cat([raw, raw[-1:].expand(frames_out - raw.shape[0], -1)])
    return raw[:frames_out]
