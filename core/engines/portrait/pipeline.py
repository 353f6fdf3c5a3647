"""Animate a photo: audio -> HuBERT features -> MoDA motion -> LivePortrait render -> paste-back -> H.264 + AAC.

Memory stays flat in the audio length: features are encoded per 60 s piece and released, the motion is a tiny
(T, 70) array, and frames are rendered, pasted and encoded ``render_batch`` at a time (a writer thread encodes
one batch while the next one renders).
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core import weights as W
from core.device import oom_guard, resolve_device, resolve_dtype
from core.engines.portrait import weights as PW
from core.engines.portrait.moda import motion as M
from core.engines.portrait.moda.audio import (
    FPS,
    LIP_REFERENCE,
    SILENT_FRAMES,
    SR,
    AudioFeatures,
    HubertEncoder,
    prepare_waveform,
)
from core.engines.portrait.moda.drive import driving_params
from core.engines.portrait.moda.generator import MotionGenerator, MotionSettings
from core.errors import BadInputError
from core.jobs import JobContext, JobResult

ENGINE = "portrait"
OUT_RATE = 48000  # output track rate when the range is cut here
NULL_AUDIO_NOTE = ("CFG null-audio vector: net-200.pth holds none (the reference never registers one, so every "
                   "reference run draws a fresh random vector); ours is drawn from a fixed seed, so runs are reproducible")


@dataclass
class PortraitRequest:
    image: str
    audio: str                       # speech, or a video whose sound is used
    start: float | None = None       # driving-audio range, seconds (core.audio options below)
    end: float | None = None
    separate_vocals: bool = False    # drive with the separated voice (MDX-Net Kim_Vocal_2)
    keep_audio: str = "mix"          # output track: "mix", "vocals" or a path to another file
    normalize: str = "none"          # driving level: "none" | "peak" | "loudness"
    peak_dbfs: float = -1.0          # target of normalize="peak"
    loudness_lufs: float = -20.0     # target of normalize="loudness"
    emotion: str = "none"            # none or one of moda.motion.EMOTIONS
    cfg_scale: float = 1.2           # audio guidance; <= 1 disables CFG
    steps: int = 10                  # rectified-flow Euler steps
    seed: int = 0
    smoothing: int = 3               # pose moving-average window in frames (1 = off, 3 = reference)
    head_motion: float = 1.0         # scales generated head pose/translation deltas around the source pose
    crop_scale: float = 2.3
    pasteback: bool = True           # False returns the 512x512 animated crop
    face_index: int = 0              # largest face first
    box: list[float] | None = None   # manual face box x1, y1, x2, y2 (skips detection)
    max_side: int = 0                # downscale photos whose longer side exceeds this (0 = keep resolution)
    device: str = "auto"
    dtype: str = "fp32"              # fp16/bf16: LivePortrait under autocast (GPU only); the DiT stays fp32
    render_batch: int = 0            # frames per render pass; 0 = auto (25 on a GPU, as MoDA; 4 on the CPU)
    crf: int = 18                    # H.264 quality (lower = better)

    @property
    def needs_audio_preparation(self) -> bool:
        return self.separate_vocals or self.keep_audio != "mix" or self.normalize != "none"

    def validate(self) -> None:
        checks = [
            (1 <= self.steps <= 200, f"sampling steps must be 1..200, got {self.steps}"),
            (0 <= self.cfg_scale <= 10, f"CFG scale must be 0..10, got {self.cfg_scale}"),
            (1 <= self.smoothing <= 25, f"smoothing window must be 1..25 frames, got {self.smoothing}"),
            (0 <= self.head_motion <= 3, f"head motion must be 0..3, got {self.head_motion}"),
            (1.5 <= self.crop_scale <= 4, f"crop scale must be 1.5..4, got {self.crop_scale}"),
            (0 <= self.render_batch <= 512, f"render batch must be 0 (auto)..512, got {self.render_batch}"),
            (0 <= self.crf <= 51, f"CRF must be 0..51, got {self.crf}"),
            (self.start is None or self.start >= 0, f"start {self.start} s is negative"),
            (self.start is None or self.end is None or self.end > self.start, "end must be after start"),
            (self.face_index >= 0, f"face index must be >= 0, got {self.face_index}"),
            (self.box is None or len(self.box) == 4, "face box must be four numbers x1,y1,x2,y2"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInputError(message)
        try:
            M.emotion_id(self.emotion)
        except ValueError as exc:
            raise BadInputError(str(exc)) from exc


@dataclass
class _Prepared:
    photo: np.ndarray
    crop: object
    renderer: object
    source: object
    device: torch.device


def _prepare(request: PortraitRequest, ctx: JobContext) -> _Prepared:
    """Weights, device, photo, face crop and the LivePortrait source state (shared by run and preview)."""
    from core.liveportrait.crop import FaceCropper, resize_to_limit
    from core.liveportrait import LivePortraitRenderer, image_to_tensor
    from core.media import load_image

    request.validate()
    root = W.require(ENGINE)
    device = resolve_device(request.device)
    dtype = resolve_dtype(request.dtype, device)
    with ctx.stage("load"):
        photo = resize_to_limit(load_image(request.image), max_dim=request.max_side, division=2)
        cropper = FaceCropper.cached(root)
        renderer = LivePortraitRenderer.cached(root, device, dtype)
    with ctx.stage("crop"):
        box = None if request.box is None else [float(v) for v in request.box]
        crop = cropper.crop_source(photo, face_index=request.face_index, box=box, scale=request.crop_scale)
        source = renderer.extract_source(image_to_tensor(crop.img_crop_256, renderer.device))
    return _Prepared(photo, crop, renderer, source, device)


def _models(device: torch.device) -> tuple[MotionGenerator, HubertEncoder]:
    from core.cache import default_cache

    root = W.require(ENGINE)
    cache = default_cache()
    dit_path, hubert_dir = root / PW.DIT, root / PW.HUBERT_DIR
    gen = cache.get(("moda-dit", str(device), "fp32", str(dit_path)), lambda: MotionGenerator.load(dit_path, device))
    enc = cache.get(("chinese-hubert-base", str(device), "fp32", str(hubert_dir)),
                    lambda: HubertEncoder.load(hubert_dir, device))
    return gen, enc


def generate_motion(request: PortraitRequest, source, speech: np.ndarray, frames_out: int, device: torch.device,
                    ctx: JobContext) -> torch.Tensor:
    """Denormalised motion (frames_out, 70) for the source, following MoDA's ``driven_sample``."""
    gen, enc = _models(device)
    if not gen.null_audio_from_checkpoint:
        ctx.log(NULL_AUDIO_NOTE)
    features = AudioFeatures(enc, prepare_waveform(speech))
    if features.frames <= SILENT_FRAMES:
        raise BadInputError("the audio is shorter than one video frame (40 ms): nothing to animate")
    spent = {"features": 0.0}

    def timed_features(start: int, end: int) -> torch.Tensor:
        t0 = time.perf_counter()
        with ctx.stage("audio features"):
            out = features(start, end)
        spent["features"] += time.perf_counter() - t0
        ctx.check_cancelled()
        return out

    def on_chunk(done: int, total: int) -> None:
        ctx.progress(0.05 + 0.25 * done / total, f"motion {done}/{total} chunks")
        ctx.check_cancelled()

    source_raw = source.motion_vector()[0].float().cpu()
    ratio = M.rescale_ratio(float(source_raw[M.SCALE]))
    settings = MotionSettings(emotion=M.emotion_id(request.emotion), cfg_scale=request.cfg_scale,
                              steps=request.steps, seed=request.seed, smooth_window=request.smoothing)
    t0 = time.perf_counter()
    norm = gen.generate(timed_features, features.frames, source.kp.reshape(-1).cpu(), M.normalize(source_raw, ratio),
                        settings, on_chunk)
    ctx.timings["motion"] = ctx.timings.get("motion", 0.0) + time.perf_counter() - t0 - spent["features"]
    norm = M.modulate_lip(norm, -LIP_REFERENCE)[:-SILENT_FRAMES]
    raw = M.denormalize(norm, ratio)
    if raw.shape[0] < frames_out:  # the audio's last partial frame: hold the last pose
        raw = torch.cat([raw, raw[-1:].expand(frames_out - raw.shape[0], -1)])
    return raw[:frames_out]


class _EncoderThread:
    """Encodes batches in the background so the accelerator keeps rendering; a bounded queue caps memory."""

    def __init__(self, writer, ctx: JobContext):
        self.writer, self.ctx = writer, ctx
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="portrait-encode", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is None:
                try:
                    with self.ctx.stage("encode"):
                        self.writer.write(batch)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the job thread
                    self.error = exc

    def put(self, batch: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(batch)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def render_frames(prep: _Prepared, raw: torch.Tensor, request: PortraitRequest, ctx: JobContext, sink) -> None:
    """Render, paste back and hand uint8 batches to ``sink`` in order, ``render_batch`` frames at a time."""
    from core.liveportrait.pasteback import PasteBack

    r, src = prep.renderer, prep.source
    batch_size = request.render_batch or (25 if r.device.type == "cuda" else 4)  # full-size W+G: ~0.5 GB/frame on CPU
    paste = PasteBack(prep.photo, prep.crop, device=r.device) if request.pasteback else None
    source_raw = src.motion_vector()[0].float().cpu()
    total = raw.shape[0]
    for start in range(0, total, batch_size):
        ctx.check_cancelled()
        part = driving_params(raw[start:start + batch_size], source_raw, request.head_motion)
        with ctx.stage("render"):
            dev = r.device
            x_d = r.compose_keypoints(src, part.exp.to(dev), part.pitch.to(dev), part.yaw.to(dev), part.roll.to(dev),
                                      part.t.to(dev))
            frames = r.render(src, r.stitch(src.x_s, x_d), batch_size=batch_size)
            _sync(dev)
        with ctx.stage("paste-back"):
            if paste is not None:
                out = paste(frames)
            else:
                out = (frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
            batch = out.cpu().numpy()
        sink(batch)
        done = min(start + batch_size, total)
        ctx.progress(0.3 + 0.7 * done / total, f"rendered {done}/{total} frames")


def audio_tracks(request: PortraitRequest, ctx: JobContext):
    """(16 kHz driving samples, what the writer muxes). Separation, another output track or normalisation go
    through core.audio's cached preparation; otherwise the file (range) is read directly."""
    from core.media import load_audio

    if request.needs_audio_preparation:
        from core.audio.options import AudioOptions
        from core.audio.prepare import prepare_audio

        prepared = prepare_audio(AudioOptions.from_request(request), ctx, span=(0.0, 0.05))
        return load_audio(prepared.driving_wav, sr=SR), str(prepared.output_audio)
    speech = load_audio(request.audio, sr=SR, start=request.start, end=request.end)
    if request.start is None and request.end is None:
        return speech, request.audio
    return speech, (load_audio(request.audio, sr=OUT_RATE, start=request.start, end=request.end), OUT_RATE)


def run(request: PortraitRequest, ctx: JobContext) -> JobResult:
    from core.media import VideoWriter, frames_needed

    ctx.progress(0.0, "loading photo, face crop and models")
    prep = _prepare(request, ctx)
    with ctx.stage("load"):
        speech, track = audio_tracks(request, ctx)
    frames_out = frames_needed(len(speech) / SR, FPS)
    if frames_out == 0:
        raise BadInputError(f"{Path(request.audio).name} is shorter than one video frame (40 ms)")
    ctx.progress(0.05, "audio features and motion")
    with oom_guard():
        raw = generate_motion(request, prep.source, speech, frames_out, prep.device, ctx)
        out_path = ctx.job_dir / "portrait.mp4"
        with VideoWriter(out_path, fps=FPS, audio=track, crf=request.crf) as writer:
            encoder = _EncoderThread(writer, ctx)
            try:
                render_frames(prep, raw, request, ctx, encoder.put)
            finally:
                encoder.close()
    h, w = (prep.photo.shape[:2] if request.pasteback else (512, 512))
    return ctx.result(out_path, frames=int(raw.shape[0]), width=int(w), height=int(h),
                      crop_box=prep.crop.box.tolist(), seconds=len(speech) / SR)


def crop_overlay(photo: np.ndarray, crop) -> np.ndarray:
    """The photo with the (possibly rotated) crop square drawn on it."""
    import cv2

    s = crop.img_crop_512.shape[0]
    corners = np.array([[0, 0], [s, 0], [s, s], [0, s]], dtype=np.float64)
    pts = crop.to_original(corners).round().astype(np.int32)
    out = np.ascontiguousarray(photo.copy())
    thickness = max(2, round(max(photo.shape[:2]) / 300))
    cv2.polylines(out, [pts.reshape(-1, 1, 2)], isClosed=True, color=(0, 255, 0), thickness=thickness)
    return out


def preview(request: PortraitRequest, ctx: JobContext) -> JobResult:
    """Seconds, not minutes: the crop drawn on the photo and the first frame rendered from the source's own motion.

    The first generated frame is conditioned on exactly this motion (MoDA starts from the source pose), so this
    shows what the crop, identity and paste-back will look like without running the audio models.
    """
    from PIL import Image

    prep = _prepare(request, ctx)
    raw = prep.source.motion_vector().float().cpu()
    frames: list[np.ndarray] = []
    with oom_guard():
        render_frames(prep, raw, request, ctx, frames.append)
    crop_png, frame_png = ctx.job_dir / "crop.png", ctx.job_dir / "first_frame.png"
    Image.fromarray(crop_overlay(prep.photo, prep.crop)).save(crop_png)
    Image.fromarray(frames[0][0]).save(frame_png)
    return ctx.result(frame_png, crop_image=str(crop_png), frame_image=str(frame_png),
                      crop_box=prep.crop.box.tolist())
