"""The live lip-dub session: an idle video looped ping-pong, its mouth driven by audio pushed as it arrives.

``open_session(request, ctx)`` prepares the idle video once through the lip-dub engine's own preparation cache (face
track, crops -> VAE posteriors, blend masks; the face picker applies), loads the UNet, VAE and whisper encoder, and
holds the idle frames in memory (a few seconds; ``LiveRequest`` refuses more than 20 s). Then ``push(samples)`` appends
16 kHz mono audio and returns the frames whose whisper look-ahead has arrived (``core.engines.lipdub.live.features``),
each with its 40 ms of audio, so a viewer hears what the frame shows; ``finish()`` draws the frames left at the end of
the audio. Output frame ``i`` is source frame ``pingpong(i, N)``, latents seeded per source frame exactly as the offline
engine (``pipeline.frame_seed``), so the stream differs from the offline lip-dub of the same audio only through the
streamed whisper features; outside the face boxes every frame is the idle frame itself.

Deviations from MuseTalk's real-time mode (``scripts/realtime_inference.py``): it precomputes the same cache but
takes the whole audio up front; here the audio arrives in chunks and is featurised with a rolling buffer. Rest on
silence (``AudioOptions.rest``) does not apply live: it needs the whole take's speech map, so the live mouth follows
the audio frame by frame, as the reference models do (``--rest off`` offline gives the same). Audio at
another rate is resampled here (soxr, streaming), not refused; a microphone whose first 3 s are digital silence gets one
warning (a muted microphone), and the session goes on (a closed mouth is the right picture for silence).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import soxr
import torch

from core import weights
from core.device import resolve_device, resolve_dtype
from core.engines.lipdub import models as M
from core.engines.lipdub.audio import SR, positional_encoding
from core.engines.lipdub.pipeline import blend_batch, dub_faces, sample_latents
from core.engines.lipdub.prepare import prepare
from core.engines.lipdub.source import FPS, FrameSource, pingpong
from core.errors import BadInputError
from core.engines.lipdub.live.features import StreamingWhisper
from core.engines.lipdub.live.request import LiveRequest

ENGINE = "lipdub"
SILENCE_WARN_S = 3.0
SILENCE_PEAK = 1e-4  # below this peak a chunk counts as digital silence (a muted or absent microphone)
STEPS = ("audio_features", "latents", "unet", "vae_decode", "blend")


@dataclass
class LiveChunk:
    """Frames ``start .. start + len(frames) - 1`` of the stream ([B, H, W, 3] uint8 RGB) with their audio ([B * 640]
    float32 at 16 kHz, mono), and the seconds each step took to make them."""

    start: int
    frames: np.ndarray
    audio: np.ndarray
    steps: dict[str, float] = field(default_factory=dict)
    made_at: float = 0.0  # time.perf_counter() when the frames were ready

    @property
    def end(self) -> int:
        return self.start + len(self.frames)


class LipdubSession:
    """One live lip-dub stream (see the module docstring). Not thread-safe: one caller pushes."""

    fps = FPS
    sample_rate = SR

    def __init__(self, req: LiveRequest, ctx):
        req.validate()
        self.req, self.ctx = req, ctx
        root = weights.require(ENGINE, req.checkpoints)
        self.device = resolve_device(req.device)
        self.dtype = resolve_dtype(req.dtype, self.device)
        ctx.progress(0.0, "preparing the idle video")
        source = FrameSource(req.video, max_side=int(req.max_side))
        self.prep = prepare(source, req, root, self.device, self.dtype, ctx, ctx.progress)
        for message in source.warnings:
            ctx.warn(message)
        if not self.prep.valid.any():
            raise BadInputError(f"no face found in {source.name}; pick a face or draw a box")
        with ctx.stage("load_idle"):
            self.idle = source.frames(range(self.prep.n))
        self.hw = source.hw
        with ctx.stage("load_models"):
            self.unet = M.load_unet(root, req.version, self.device, self.dtype)
            self.vae = M.load_vae(root, self.device, self.dtype)
            self.features = StreamingWhisper(M.load_whisper_encoder(root, self.device, self.dtype),
                                             M.load_feature_extractor(root), self.device, self.dtype, FPS,
                                             int(req.lookahead_ms) / 1000)
        self.pe = positional_encoding(device=self.device, dtype=self.dtype)
        self.audio = np.zeros(0, dtype=np.float32)  # pushed samples not yet handed out with their frames
        self.audio_at = 0  # sample index of audio[0]
        self.done = 0  # frames handed out
        self._resampler: soxr.ResampleStream | None = None
        self._rate: int | None = None
        self._silent_s = 0.0
        ctx.progress(1.0, "live: waiting for audio")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        return self.hw[1], self.hw[0]

    def idle_frame(self, i: int) -> np.ndarray:
        """Output frame ``i`` as the idle loop shows it (no dubbing)."""
        return self.idle[pingpong(i, self.prep.n)]

    def push(self, samples: np.ndarray, rate: int = SR) -> LiveChunk | None:
        """Append audio (mono float32, any rate from 8 kHz) and return the frames now ready, or None."""
        self.ctx.check_cancelled()
        samples = self._at_16k(np.asarray(samples, dtype=np.float32).reshape(-1), int(rate))
        self._watch_silence(samples)
        self.audio = np.concatenate([self.audio, samples])
        self.features.push(samples)
        return self._draw(self.features.ready())

    def finish(self) -> LiveChunk | None:
        """The audio has ended: draw the frames left (their look-ahead reads zeros, as offline at the file's end)."""
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self.audio = np.concatenate([self.audio, tail])
            self.features.push(tail)
        self.features.end()
        return self._draw(self.features.ready())

    def _at_16k(self, samples: np.ndarray, rate: int) -> np.ndarray:
        if rate < 8000:
            raise BadInputError(f"live audio at {rate} Hz is too coarse for speech: send 16 kHz (8 kHz at least)")
        if self._rate is None:
            self._rate = rate
            if rate != SR:
                self.ctx.log(f"live audio arrives at {rate} Hz: resampled to {SR} Hz")
                self._resampler = soxr.ResampleStream(rate, SR, 1, dtype="float32", quality="HQ")
        elif rate != self._rate:
            raise BadInputError(f"the live audio changed rate from {self._rate} Hz to {rate} Hz mid-stream")
        if self._resampler is None:
            return samples
        return self._resampler.resample_chunk(samples)

    def _watch_silence(self, samples: np.ndarray) -> None:
        """One warning when the first ``SILENCE_WARN_S`` seconds are all digital silence (a muted microphone)."""
        if self._silent_s < 0 or not len(samples):
            return
        if float(np.abs(samples).max()) >= SILENCE_PEAK:
            self._silent_s = -1.0  # sound has arrived: the microphone works
            return
        self._silent_s += len(samples) / SR
        if self._silent_s >= SILENCE_WARN_S:
            self.ctx.warn("the microphone sends only silence: check that it is not muted and that the browser uses "
                          "the right one")

    @torch.inference_mode()
    def _draw(self, ready: int) -> LiveChunk | None:
        """Frames ``done .. ready - 1`` in UNet batches of at most ``batch_size``."""
        if ready <= self.done:
            return None
        before = {k: self.ctx.timings.get(k, 0.0) for k in STEPS}
        start, pieces = self.done, []
        for a in range(start, ready, int(self.req.batch_size)):
            out_idx = list(range(a, min(a + int(self.req.batch_size), ready)))
            pieces.append(self._dub(out_idx))
            self.ctx.check_cancelled()
        frames = np.concatenate(pieces)
        per_frame = SR // FPS
        cut = (ready - start) * per_frame - (self.audio_at - start * per_frame)
        audio, self.audio = self.audio[:cut], self.audio[cut:]
        audio = np.pad(audio, (0, (ready - start) * per_frame - len(audio)))  # the end: the last frame's tail
        self.audio_at += cut
        self.done = ready
        steps = {k: self.ctx.timings.get(k, 0.0) - before[k] for k in STEPS}
        return LiveChunk(start, frames, audio, steps, time.perf_counter())

    def _dub(self, out_idx: list[int]) -> np.ndarray:
        prep = self.prep
        src = [pingpong(i, prep.n) for i in out_idx]
        frames = self.idle[src].copy()
        rows = [k for k, j in enumerate(src) if prep.valid[j]]
        if not rows:
            return frames
        js = [src[k] for k in rows]
        with self.ctx.stage("audio_features"):
            audio = self.features([out_idx[k] for k in rows]) + self.pe
        with self.ctx.stage("latents"):
            latents = sample_latents(np.asarray(prep.moments[np.asarray(js)]), js, self.req.seed, self.device,
                                     self.dtype)
        faces = dub_faces(latents, audio, self.unet, self.vae, self.ctx)
        with self.ctx.stage("blend"):
            return blend_batch(frames, rows, faces, prep.masks[np.asarray(js)], prep.boxes[js], self.device)

    def close(self) -> None:
        """Drop the models' references and the idle frames (the cache keeps the models for the next session)."""
        self.unet = self.vae = self.features = None
        self.idle = np.zeros((0, 1, 1, 3), dtype=np.uint8)


def open_session(req: LiveRequest, ctx) -> LipdubSession:
    """The engine's session factory (``core.sessions`` holds the GPU lock and the lifecycle around it)."""
    return LipdubSession(req, ctx)

REQUEST = LiveRequest
