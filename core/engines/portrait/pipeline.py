"""Animate a photo: audio -> HuBERT features -> MoDA motion -> LivePortrait render -> paste-back -> H.264 + AAC.

Memory stays flat in the audio length: features are encoded per 60 s piece and released, the motion is a tiny
(T, 70) array, and frames are rendered, pasted and encoded ``render_batch`` at a time (a writer thread encodes
one batch while the next one renders).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.device import oom_guard
from core.engines.portrait import weights as PW
from core.jobs import JobContext, JobResult
from core.moda.audio import FPS, SR
from core.moda.drive import driving_params
from core.moda.pipeline import generate_motion
from core.liveportrait.rest import MouthRest, mouth_rest

from .request import PortraitRequest


@dataclass
class _Prepared:
    photo: np.ndarray
    crop: object
    renderer: object
    source: object
    device: torch.device


def _prepare(request: PortraitRequest, ctx: JobContext) -> _Prepared:
    """Photo, face crop and the LivePortrait source state (shared by run and preview), on the weights, device,
    dtype and placement the job runner resolved (``ctx``)."""
    from core.liveportrait import LivePortraitRenderer, image_to_tensor
    from core.liveportrait.crop import FaceCropper, resize_to_limit
    from core.media import load_image

    root, device, dtype = ctx.root, ctx.device, ctx.dtype
    with ctx.stage("load"):
        original = load_image(request.image)
        photo = resize_to_limit(original, max_dim=request.max_side, division=2)
        scale = photo.shape[1] / original.shape[1]
        if 0 < request.max_side < max(original.shape[:2]):
            ctx.warn(f"{Path(request.image).name} is {original.shape[1]}x{original.shape[0]}: animated at "
                     f"{photo.shape[1]}x{photo.shape[0]} (max photo side {request.max_side}; 0 keeps the full size)")
        del original
        cropper = FaceCropper.cached(root, weights=PW.LIVEPORTRAIT, placement=ctx.placement)  # MoDA's own copies
        renderer = LivePortraitRenderer.cached(root, device, dtype, weights=PW.LIVEPORTRAIT, placement=ctx.placement)
    with ctx.stage("crop"):
        crop = cropper.crop_source(photo, face=request.face, box=_scaled(request.box, scale),
                                   point=_scaled(request.point, scale), scale=request.crop_scale)
        source = renderer.extract_source(image_to_tensor(crop.img_crop_256, renderer.device))
    return _Prepared(photo, crop, renderer, source, device)


def _scaled(coords: list[float] | None, scale: float) -> list[float] | None:
    """A box or point given in the photo's pixels, in the pixels of the photo as processed."""
    return None if coords is None else [v * scale for v in coords]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def render_frames(prep: _Prepared, raw: torch.Tensor, request: PortraitRequest, ctx: JobContext, sink,
                  rest: MouthRest | None = None) -> None:
    """Render, paste back and hand uint8 batches to ``sink`` in order, ``render_batch`` frames at a time; ``rest``
    closes the mouth on rest frames (``core.liveportrait.rest``)."""
    from core.liveportrait.pasteback import PasteBack

    r, src = prep.renderer, prep.source
    batch_size = request.render_batch or (25 if r.device.type == "cuda" else 4)  # full-size W+G: ~0.5 GB/frame on CPU
    paste = PasteBack(prep.photo, prep.crop) if request.pasteback else None
    source_raw = src.motion_vector()[0].float().cpu()
    total = raw.shape[0]
    for start in range(0, total, batch_size):
        ctx.check_cancelled()
        part = driving_params(raw[start:start + batch_size], source_raw, request.head_motion)
        if rest is not None:
            part.exp = rest.expression(part.exp, src.exp, start)
        with ctx.stage("render"):
            dev = r.device
            x_d = r.compose_keypoints(src, part.exp.to(dev), part.pitch.to(dev), part.yaw.to(dev), part.roll.to(dev),
                                      part.t.to(dev))
            if rest is not None:
                x_d = x_d + rest.offsets(r, src.x_s, start, x_d.shape[0])
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
        ctx.count(done, total, "rendering")


def run(request: PortraitRequest, ctx: JobContext) -> JobResult:
    from core.audio.prepare import driving_audio
    from core.media import EncoderThread, VideoWriter, frames_needed

    # 1. Photo, face crop and the LivePortrait source state; the driving audio.
    ctx.progress(0.0, "loading photo, face crop and models")
    prep = _prepare(request, ctx)
    with ctx.stage("load"):
        speech, track = driving_audio(request.audio, ctx, SR, request.checkpoints, span=(0.0, 0.05))
    frames_out = frames_needed(len(speech) / SR, FPS)
    with oom_guard():
        # 2. HuBERT features and MoDA motion for the whole audio (a small (T, 70) array).
        with ctx.span(0.05, 0.3):
            raw = generate_motion(ctx.root, prep.source, speech, frames_out,
                                  prep.device, ctx, request.motion_settings(), request.emotion_timeline())
        # 3. Render, paste back and encode, a batch at a time (the encoder runs on its own thread); rest frames
        #    close the mouth.
        rest = mouth_rest(request.audio, speech, SR, frames_out, prep.crop, ctx)
        out_path = ctx.job_dir / "portrait.mp4"
        with VideoWriter(out_path, fps=FPS, audio=track, crf=request.crf) as writer, \
                EncoderThread(writer, ctx.stage) as encoder, ctx.span(0.3, 1.0):
            render_frames(prep, raw, request, ctx, encoder.put, rest)
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

    from core.audio.prepare import driving_audio

    prep = _prepare(request, ctx)
    # The audio is not needed for this frame, but audio Generate would refuse (silent, too short) is refused here too.
    driving_audio(request.audio, ctx, SR, request.checkpoints, span=(0.0, 0.05))
    raw = prep.source.motion_vector().float().cpu()
    frames: list[np.ndarray] = []
    with oom_guard():
        render_frames(prep, raw, request, ctx, frames.append)
    crop_png, frame_png = ctx.job_dir / "crop.png", ctx.job_dir / "first_frame.png"
    Image.fromarray(crop_overlay(prep.photo, prep.crop)).save(crop_png)
    Image.fromarray(frames[0][0]).save(frame_png)
    box = [round(v, 1) for v in prep.crop.box.tolist()]
    return ctx.result(frame_png, images={"crop": crop_png}, notes=[f"crop box {box}"],
                      crop_box=prep.crop.box.tolist())
