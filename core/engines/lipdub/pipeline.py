"""Lip-dub a video or image with MuseTalk: ``run`` (the whole video) and ``preview`` (frame 0 only).

Streaming: prepare (face track, crops -> VAE posteriors, parsing masks; cached) then, per batch of output frames,
audio prompts -> UNet at t=0 -> VAE decode -> blend on the device -> H.264 encode on a writer thread. Output frame i
uses source frame ``pingpong(i, N)``; the output lasts as long as the driving audio (25 fps).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import torch

from core.audio.prepare import driving_audio
from core.device import oom_guard
from core.engines.lipdub.face import crop as C
from core.engines.lipdub.face import landmarks as L
from core.engines.lipdub.face.track import left_to_right, pick
from core.errors import BadInputError
from core.jobs import JobContext, JobResult
from core.media import EncoderThread, VideoWriter, frames_needed

from . import blend as B
from . import models as M
from .audio import SR, WhisperFeatures, positional_encoding
from .prepare import Prepared, materials, prepare
from .request import LipdubRequest
from .rest import LipRest
from .rest import plan as rest_plan
from .source import FPS, FrameSource, pingpong, timed_prefetch


def frame_seed(seed: int, j: int) -> int:
    """Generator seed for source frame j: each frame's VAE sample is fixed by (seed, j), whatever the batching."""
    return (int(seed) * 1_000_003 + int(j)) & 0x7FFF_FFFF_FFFF_FFFF


def sample_latents(moments: np.ndarray, sources, seed: int, device, dtype) -> torch.Tensor:
    """[B, 8, 32, 32] UNet latents: masked and reference posterior samples, scaled by 0.18215."""
    mom = torch.from_numpy(np.asarray(moments, dtype=np.float32))
    eps = torch.stack([torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(frame_seed(seed, j)))
                       for j in sources])
    lat = torch.cat([mom[:, 0] + mom[:, 1] * eps[:, 0], mom[:, 2] + mom[:, 3] * eps[:, 1]], dim=1) * M.VAE_SCALE
    lat = lat.to(device, dtype)
    return lat.contiguous(memory_format=torch.channels_last) if lat.is_cuda else lat


@torch.inference_mode()
def dub_faces(latents: torch.Tensor, audio: torch.Tensor, unet, vae, ctx) -> torch.Tensor:
    """UNet at t=0 then VAE decode: [B, 3, 256, 256] RGB faces in 0..255 (rounded like the reference's uint8).

    The latents are scaled by ``1 / VAE_SCALE`` and multiplied, as the reference does: dividing differs by an ulp
    and flips a few roundings of the output."""
    with ctx.stage("unet"):
        t = torch.zeros(latents.shape[0], dtype=torch.long, device=latents.device)
        pred = unet(latents, t, encoder_hidden_states=audio).sample
    with ctx.stage("vae_decode"):
        img = vae.decode(pred * (1 / M.VAE_SCALE)).sample.float()
        return ((img / 2 + 0.5).clamp(0, 1) * 255).round()


@torch.inference_mode()
def blend_batch(frames: np.ndarray, rows, faces, masks, boxes, device) -> np.ndarray:
    """Paste faces[k] into frames[rows[k]] at boxes[k] with blend weights k (``B.as_alpha``), in place; other
    frames stay untouched.

    On the CPU this is the reference's arithmetic in single-threaded numpy/cv2 (exact, and unaffected by other
    processes holding cores); on a GPU only the face boxes travel to the device and back, each way in one copy."""
    boxes = [tuple(int(v) for v in b) for b in boxes]
    alphas = [B.as_alpha(m, b) for m, b in zip(masks, boxes)]
    regions = [frames[r, y1:y2, x1:x2] for r, (x1, y1, x2, y2) in zip(rows, boxes)]
    if torch.device(device).type == "cpu":
        for reg, face, alpha in zip(regions, B.faces_uint8(faces), alphas):
            reg[...] = B.paste_face(reg, face, alpha)
        return frames
    sizes = [reg.size for reg in regions]
    flat = torch.from_numpy(np.concatenate([reg.reshape(-1) for reg in regions])).to(device)
    out = []
    for k, (reg, piece) in enumerate(zip(regions, flat.split(sizes))):
        region = piece.view(reg.shape).permute(2, 0, 1)
        alpha = torch.from_numpy(alphas[k]).to(device).float() / 255.0
        out.append(B.blend_region(region, faces[k], alpha).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).reshape(-1))
    back = torch.cat(out).cpu().numpy()
    start = 0
    for reg in regions:
        reg[...] = back[start:start + reg.size].reshape(reg.shape)
        start += reg.size
    return frames



def _generate(prep: Prepared, source: FrameSource, feats: WhisperFeatures, n_out: int, req, unet, vae, device,
              dtype, ctx, sink, rest: LipRest | None = None) -> None:
    pe = positional_encoding(device=device, dtype=dtype)
    bs = int(req.batch_size)

    def batches():
        for a in range(0, n_out, bs):
            out_idx = list(range(a, min(a + bs, n_out)))
            src = [pingpong(i, prep.n) for i in out_idx]
            yield out_idx, src, source.frames(src)

    for out_idx, src, frames in timed_prefetch(batches(), ctx):  # decoding overlaps the GPU work
        a = out_idx[0]
        rows = [k for k, j in enumerate(src) if prep.valid[j] and not (rest and rest.keeps_source(out_idx[k]))]
        if rows:
            js = [src[k] for k in rows]
            with ctx.stage("audio_features"):
                idx = [out_idx[k] for k in rows]
                audio = (rest.prompts(feats, idx) if rest else feats(idx)) + pe
            with ctx.stage("latents"):
                order = np.argsort(js)  # memmap reads in ascending order
                moments = np.empty((len(js), 4, 4, 32, 32), dtype=np.float32)
                moments[order] = prep.moments[np.asarray(js)[order]]
                latents = sample_latents(moments, js, req.seed, device, dtype)
            faces = dub_faces(latents, audio, unet, vae, ctx)
            with ctx.stage("blend"):
                originals = frames.copy() if rest and rest.mode == "source" else None
                frames = blend_batch(frames, rows, faces, prep.masks[np.asarray(js)], prep.boxes[js], device)
                if originals is not None:
                    rest.crossfade(frames, originals, out_idx)
        sink(frames)
        ctx.count(min(a + bs, n_out), n_out, "generating")
        ctx.check_cancelled()


def run(req: LipdubRequest, ctx: JobContext) -> JobResult:
    # 1. Inputs (the job runner checked the request and weights and resolved device, dtype and memory profile).
    root, device, dtype = ctx.root, ctx.device, ctx.dtype
    ctx.progress(0.01, "reading inputs")
    source = FrameSource(req.video, max_side=int(req.max_side))
    samples, out_track = driving_audio(req.audio, ctx, SR, req.checkpoints, span=(0.0, 0.02))
    n_out = frames_needed(len(samples) / SR, FPS)
    with oom_guard():
        # 2. Prepare the video (face track, crops -> VAE posteriors, masks), or load it from the cache.
        with ctx.span(0.02, 0.45):
            prep = prepare(source, req, root, device, dtype, ctx, ctx.progress)
        try:
            ctx.progress(0.45, "prepared video loaded from cache: skipped face tracking, crops and masks"
                         if prep.cache_hit else "video prepared")
            faceless = int((~prep.valid).sum())
            if faceless:
                ctx.warn(f"no face in {faceless} of {prep.n} frames of {source.name}; those frames pass through "
                         "unchanged")
            # 3. Models and the whisper features of the whole audio.
            with ctx.stage("load_models"):
                unet = M.load_unet(root, req.version, device, dtype, ctx.placement)
                vae = M.load_vae(root, device, dtype, ctx.placement)
                feats = WhisperFeatures(samples, M.load_whisper_encoder(root, device, dtype, ctx.placement),
                                        M.load_feature_extractor(root), device, dtype, FPS)
                rest = rest_plan(req, samples, n_out, feats, ctx)
            # 4. Generate batch by batch: UNet, VAE decode, blend, encode on a writer thread.
            out_path = ctx.job_dir / f"{Path(req.video).stem}_dubbed.mp4"
            h, w = source.hw
            with VideoWriter(out_path, fps=FPS, size=(w, h), audio=out_track, crf=int(req.crf)) as writer, \
                    EncoderThread(writer, ctx.stage) as encoder, ctx.span(0.45, 0.99):
                _generate(prep, source, feats, n_out, req, unet, vae, device, dtype, ctx, encoder.put, rest)
            for message in source.warnings:
                ctx.warn(message)
        finally:
            if prep.temporary:
                shutil.rmtree(prep.folder, ignore_errors=True)
    return ctx.result(out_path, cache_hit=prep.cache_hit, frames=n_out, source_frames=prep.n,
                      faceless_frames=faceless, bbox_range=prep.shift_range())


def _draw_overlay(frame: np.ndarray, dets: np.ndarray, chosen, box, lm, alpha: np.ndarray) -> np.ndarray:
    """Frame 0 with numbered face boxes (chosen one green), the crop box (blue), the mask edge (red), landmarks."""
    img = np.ascontiguousarray(frame.copy())
    thick = max(1, round(max(img.shape[:2]) / 400))
    for n, d in enumerate(left_to_right(dets)):
        x1, y1, x2, y2 = (int(v) for v in d[:4])
        is_chosen = chosen is not None and np.allclose(d[:4], chosen[:4])
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 200, 0) if is_chosen else (160, 160, 160), thick)
        cv2.putText(img, str(n), (x1 + 2, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, (255, 255, 0), thick)
    x1, y1, x2, y2 = box
    edge = cv2.Canny((alpha > 0.5).astype(np.uint8) * 255, 50, 150) > 0
    img[y1:y2, x1:x2][edge] = (255, 0, 0)
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), (0, 120, 255), thick)
    if lm is not None:
        for x, y in np.asarray(lm):
            cv2.circle(img, (int(x), int(y)), thick, (255, 230, 0), -1)
    return img


def _save_rgb(path: Path, img: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return path


@torch.inference_mode()
def preview(req: LipdubRequest, ctx: JobContext) -> JobResult:
    """Frame 0: overlay (face, crop box, mask edge, landmarks), the dubbed frame with frame 0's real audio window,
    and the suggested bbox_shift range."""
    root, device, dtype = ctx.root, ctx.device, ctx.dtype
    source = FrameSource(req.video, max_side=int(req.max_side))
    frame = source.frames([0])
    hw = source.hw
    for message in source.warnings:
        ctx.warn(message)
    samples = driving_audio(req.audio, ctx, SR, req.checkpoints)[0][: 30 * SR]  # frame 0 needs the first segment
    dets, chosen, lm, shift_range = np.zeros((0, 5), np.float32), None, None, None
    with oom_guard():
        if req.box:
            box = C.manual_box(source.scaled(req.box), hw, source.name)
        else:
            with ctx.stage("face_track"):
                dets = L.detect_faces(M.load_detector(root, device, ctx.placement), frame, device)[0]
                i = pick(dets, req.face, tuple(source.scaled(req.point)) if req.point else None)
                if i is None:
                    raise BadInputError(f"no face found in frame 0 of {source.name}; draw a face box")
                chosen = dets[i]
                lm = L.landmarks68(M.load_landmarker(root, device, ctx.placement), frame, chosen[None, :4], device)[0]
                box = C.landmark_box(lm, req.bbox_shift, req.margin, hw, fallback=chosen)
                if box is None:
                    raise BadInputError(f"the face in frame 0 of {source.name} is too small to dub")
                shift_range = C.shift_range(lm[None])
        vae, parser = M.load_vae(root, device, dtype, ctx.placement), M.load_parser(root, device, dtype, ctx.placement)
        moments, masks = materials(frame, [box], vae, parser, req.mode,
                                   (int(req.left_cheek_width), int(req.right_cheek_width)), device, dtype, ctx)
        unet = M.load_unet(root, req.version, device, dtype, ctx.placement)
        feats = WhisperFeatures(samples, M.load_whisper_encoder(root, device, dtype, ctx.placement),
                                M.load_feature_extractor(root),
                                device, dtype, FPS)
        rest = rest_plan(req, samples, frames_needed(len(samples) / SR, FPS), feats, ctx)  # frame 0 as Generate has it
        audio = (rest.prompts(feats, [0]) if rest else feats([0])) + positional_encoding(device=device, dtype=dtype)
        faces = dub_faces(sample_latents(moments, [0], req.seed, device, dtype), audio, unet, vae, ctx)
        dubbed = blend_batch(frame.copy(), [0], faces, masks, [box], device)[0]  # in place: keep frame for the overlay
        if rest and rest.mode == "source":  # the source frame itself on full rest, cross-faded on a ramp
            dubbed = frame[0].copy() if rest.keeps_source(0) else rest.crossfade(dubbed[None], frame[:1], [0])[0]
        alpha = B.box_alpha(B.unpack_mask(masks[0], device), box).cpu().numpy()
    overlay = _draw_overlay(frame[0], dets, chosen, box, lm, alpha)
    overlay_path = _save_rgb(ctx.job_dir / "preview_overlay.png", overlay)
    dubbed_path = _save_rgb(ctx.job_dir / "preview_dubbed.png", dubbed)
    notes = [f"crop box {list(box)}"
             + (f"; suggested bbox_shift range [{shift_range[0]}, {shift_range[1]}]" if shift_range else "")]
    return ctx.result(dubbed_path, images={"overlay": overlay_path}, notes=notes, bbox_range=shift_range,
                      crop_box=list(box), faces=[[float(v) for v in d[:4]] for d in left_to_right(dets)])
