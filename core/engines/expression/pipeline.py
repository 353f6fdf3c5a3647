"""Expression control: edit a photo (still), animate it from audio with an emotion timeline and edits, or edit a
video's expressions, all through LivePortrait keypoint offsets (core.liveportrait.expression).

Steps of `run`:
1. The photo (or the video's first frame) and the transfer photo, cropped.
2. One of
   - still photo: the source's own motion + edits, rendered once and pasted back at full resolution (PNG);
   - photo + audio: MoDA motion with per-chunk emotions, edits added per frame, rendered, pasted, encoded;
   - video: each frame's motion extracted (pass 1), smoothed over time, edits added, each frame re-rendered from
     itself and pasted back (pass 2); the video's sound is muxed back unchanged.
`preview` renders the source face with the edits only (no motion generation, no paste-back): the live preview.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.device import oom_guard
from core.errors import BadInputError
from core.jobs import JobContext, JobResult
from core.liveportrait import expression as E
from core.moda.audio import FPS, SR
from core.moda.drive import driving_params

from .edits import EditPlan
from .render import PreparedFace, driving_keypoints, prepare_face, still_keypoints, to_uint8
from .request import ExpressionRequest
from .weights import AUDIO_WEIGHTS, EDIT_WEIGHTS

# Video edits smooth pose, translation and the expression rows other than these: each frame keeps its own mouth
# (LivePortrait's lip keypoints) and eyes (blinks), so lip-sync and blinks are never averaged away.
UNSMOOTHED_ROWS = (6, 12, 14, 17, 19, 20, 11, 13, 15, 16, 18)


_FACES: OrderedDict = OrderedDict()  # recently prepared faces, so live previews skip cropping and extraction
_FACES_KEPT = 4


def _face(key: tuple, make) -> tuple[PreparedFace, bool]:
    """(the prepared face for `key` (file identity + face choice + renderer), whether it was already made)."""
    if key in _FACES:
        _FACES.move_to_end(key)
        return _FACES[key], True
    _FACES[key] = face = make()
    while len(_FACES) > _FACES_KEPT:
        _FACES.popitem(last=False)
    return face, False


def _file_key(path: str) -> tuple:
    st = Path(path).stat()
    return str(Path(path).resolve()), st.st_mtime_ns, st.st_size


@dataclass
class _Setup:
    root: Path
    renderer: object
    cropper: object
    face: PreparedFace
    plan: EditPlan
    face_reused: bool  # the face came from the recent-faces cache (no crop or feature extraction ran)


def _first_frame(path: str) -> np.ndarray:
    from core.media import iter_video_frames

    for frame in iter_video_frames(path, fps=FPS):
        return frame
    raise BadInputError(f"{Path(path).name} has no video frames")


def _setup(request: ExpressionRequest, ctx: JobContext) -> _Setup:
    from core.liveportrait import LivePortraitRenderer
    from core.liveportrait.crop import FaceCropper, resize_to_limit
    from core.media import load_image

    root, device, dtype = ctx.root, ctx.device, ctx.dtype  # resolved by the job runner
    weights = AUDIO_WEIGHTS if request.audio is not None else EDIT_WEIGHTS
    with ctx.stage("load"):
        renderer = LivePortraitRenderer.cached(root, device, dtype, weights=weights, placement=ctx.placement)
        cropper = FaceCropper.cached(root, weights=weights, placement=ctx.placement)
    model_key = (str(root), weights.name, str(device), str(dtype), request.crop_scale)

    def photo(path: str) -> tuple[np.ndarray, float]:
        """The photo at the working size (longer side at most 1920, the reference's limit) and the factor from the
        file's pixels to it."""
        with ctx.stage("load"):
            original = load_image(path)
            img = resize_to_limit(original)
        if img.shape[1] != original.shape[1]:
            ctx.warn(f"{Path(path).name} is {original.shape[1]}x{original.shape[0]}: edited at "
                     f"{img.shape[1]}x{img.shape[0]}")
        return img, img.shape[1] / original.shape[1]

    def main_face() -> PreparedFace:
        """The face to edit; a box or point is in the file's pixels, mapped to the working size (as in every engine)."""
        img, scale = photo(request.image) if request.image else (_first_frame(request.video), 1.0)
        box, point = ([v * scale for v in c] if c is not None else None for c in (request.box, request.point))
        return prepare_face(renderer, cropper, img, face=request.face, box=box, point=point,
                            crop_scale=request.crop_scale)

    with ctx.stage("crop"):
        main = request.image or request.video
        choice = (request.face, tuple(request.box or ()), tuple(request.point or ()))
        face, reused = _face(("face", _file_key(main), choice, *model_key), main_face)
        transfer = (None, None)
        if request.transfer_image:
            ref, _ = _face(("transfer", _file_key(request.transfer_image), *model_key), lambda: prepare_face(
                renderer, cropper, photo(request.transfer_image)[0], crop_scale=request.crop_scale))
            transfer = E.transfer_delta(ref.source.exp.cpu(), ref.pose.cpu(), request.transfer_parts,
                                        request.transfer_ratio)
    return _Setup(root, renderer, cropper, face, request.plan(*transfer), reused)


def _batch_size(request: ExpressionRequest, device: torch.device) -> int:
    return request.render_batch or (25 if device.type == "cuda" else 4)


# ----------------------------------------------------------------------------------------------- still photo
def _still(setup: _Setup, ctx: JobContext) -> JobResult:
    from PIL import Image

    from core.liveportrait.pasteback import PasteBack

    r, face = setup.renderer, setup.face
    if setup.plan.keyframes or setup.plan.blink_rate:
        ctx.warn("keyframes and auto blink animate over time; a still photo takes their values at 0 s")
    with ctx.stage("render"):
        frame = r.render(face.source, still_keypoints(r, face, setup.plan))
    with ctx.stage("paste-back"):
        out = PasteBack(face.image, face.crop)(frame)[0].cpu().numpy()
    path = ctx.job_dir / "expression.png"
    Image.fromarray(out).save(path)
    h, w = out.shape[:2]
    return ctx.result(path, width=int(w), height=int(h), crop_box=face.crop.box.tolist())


# ------------------------------------------------------------------------------------------- photo + audio
def _photo_audio(request: ExpressionRequest, setup: _Setup, ctx: JobContext) -> JobResult:
    from core.audio.prepare import driving_audio
    from core.liveportrait.pasteback import PasteBack
    from core.media import EncoderThread, VideoWriter, frames_needed
    from core.liveportrait.rest import mouth_rest
    from core.moda.generator import MotionSettings
    from core.moda.pipeline import generate_motion

    r, face = setup.renderer, setup.face
    with ctx.stage("load"):
        speech, track = driving_audio(request.audio, ctx, SR, request.checkpoints, span=(0.0, 0.05))
    frames = frames_needed(len(speech) / SR, FPS)
    with oom_guard():
        with ctx.span(0.05, 0.3):
            settings = MotionSettings(cfg_scale=request.cfg_scale, steps=request.steps, seed=request.seed,
                                      smooth_window=request.smoothing)
            raw = generate_motion(setup.root, face.source, speech, frames, r.device, ctx, settings,
                                  request.emotion_timeline())
        exp_d, pose_d = setup.plan.deltas(frames, FPS)
        source_raw = face.source.motion_vector()[0].float().cpu()
        rest = mouth_rest(request.audio, speech, SR, frames, face.crop, ctx)  # None with rest off
        paste = PasteBack(face.image, face.crop)
        batch = _batch_size(request, r.device)
        out_path = ctx.job_dir / "expression.mp4"
        with VideoWriter(out_path, fps=FPS, audio=track, crf=request.crf) as writer, \
                EncoderThread(writer, ctx.stage) as encoder, ctx.span(0.3, 1.0):
            for start in range(0, frames, batch):
                ctx.check_cancelled()
                part = driving_params(raw[start:start + batch], source_raw, request.head_motion)
                pose = torch.stack([part.pitch, part.yaw, part.roll], dim=-1)
                exp, closing = part.exp, {}
                if rest is not None:  # the mouth rests where nobody speaks; edits and emotion rows continue
                    exp = rest.expression(exp, face.source.exp, start)
                    closing = {"offsets": rest.offsets(r, face.source.x_s, start, exp.shape[0])}
                with ctx.stage("render"):
                    # edits are added to the generated motion: speech-driven mouth motion is offset, not replaced
                    x_d = driving_keypoints(r, face, exp + exp_d[start:start + batch],
                                            pose + pose_d[start:start + batch], part.t, setup.plan.retarget, **closing)
                    rendered = r.render(face.source, x_d, batch_size=batch)
                with ctx.stage("paste-back"):
                    encoder.put(paste(rendered).cpu().numpy())
                ctx.count(min(start + batch, frames), frames, "rendering")
    h, w = face.image.shape[:2]
    return ctx.result(out_path, frames=frames, width=int(w), height=int(h), seconds=len(speech) / SR,
                      crop_box=face.crop.box.tolist())


# --------------------------------------------------------------------------------------------------- video
def smooth(x: torch.Tensor, window: int) -> torch.Tensor:
    """Centred moving average over the first (time) axis; edges average the frames that exist; 1 = unchanged."""
    if window <= 1:
        return x
    half, n = window // 2, x.shape[0]
    csum = torch.cat([torch.zeros_like(x[:1]), x.cumsum(0)])
    idx = torch.arange(n)
    lo, hi = (idx - half).clamp(min=0), (idx + half + 1).clamp(max=n)
    shape = (-1,) + (1,) * (x.ndim - 1)
    return (csum[hi] - csum[lo]) / (hi - lo).reshape(shape).to(x.dtype)


@dataclass
class _Track:
    """Pass 1 of a video edit: per frame, the crop and the extracted motion (small: no images kept)."""

    crops: list          # CropInfo per frame with its images dropped
    exp: torch.Tensor    # (T, 21, 3)
    pose: torch.Tensor   # (T, 3)
    t: torch.Tensor      # (T, 3)


def smooth_track(track: _Track, window: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(exp, pose, t) of a tracked video, smoothed over `window` frames except the mouth and eye rows of exp."""
    exp = smooth(track.exp, window)
    keep = list(UNSMOOTHED_ROWS)
    exp[:, keep] = track.exp[:, keep]
    return exp, smooth(track.pose, window), smooth(track.t, window)


def _track(request: ExpressionRequest, setup: _Setup, ctx: JobContext, total: int) -> _Track:
    """Crop every frame (the face under the previous frame's box centre after the first) and extract its motion."""
    from dataclasses import replace

    from core.liveportrait import image_to_tensor
    from core.media import iter_video_frames

    r, cropper = setup.renderer, setup.cropper
    crops, exps, poses, ts = [], [], [], []
    prev = setup.face.crop
    for i, frame in enumerate(iter_video_frames(request.video, fps=FPS)):
        ctx.check_cancelled()
        with ctx.stage("crop"):
            if request.box is not None:
                crop = cropper.crop_source(frame, box=request.box, scale=request.crop_scale)
            elif i == 0:
                crop = prev
            else:
                centre = (prev.box[:2] + prev.box[2:4]) / 2
                try:
                    crop = cropper.crop_source(frame, point=centre.tolist(), scale=request.crop_scale)
                except BadInputError:  # no face in this frame: keep the last crop
                    ctx.warn("no face found in some frames; they reuse the previous frame's crop")
                    crop = prev
        with ctx.stage("motion extraction"):
            info = r.keypoint_info(image_to_tensor(crop.img_crop_256, r.device))
        exps.append(info["exp"].cpu())
        poses.append(torch.stack([info["pitch"], info["yaw"], info["roll"]], dim=-1).cpu())
        ts.append(info["t"].cpu())
        crops.append(replace(crop, img_crop_512=None, img_crop_256=None))
        prev = crop
        ctx.count(i + 1, total, "tracking")
    if not crops:
        raise BadInputError(f"{Path(request.video).name} has no video frames")
    return _Track(crops, torch.cat(exps), torch.cat(poses), torch.cat(ts))


def _video(request: ExpressionRequest, setup: _Setup, ctx: JobContext) -> JobResult:
    import cv2

    from core.liveportrait import image_to_tensor
    from core.liveportrait.crop.geometry import warp
    from core.liveportrait.crop.landmarks import eye_close_ratios, lip_close_ratio
    from core.liveportrait.pasteback import PasteBack
    from core.media import EncoderThread, VideoWriter, count_output_frames, iter_video_frames, probe

    r = setup.renderer
    info = probe(request.video)
    total = count_output_frames(info, FPS)
    with oom_guard():
        with ctx.span(0.0, 0.3):
            track = _track(request, setup, ctx, total)
        frames = len(track.crops)
        exp_d, pose_d = setup.plan.deltas(frames, FPS)
        exp, pose, t = smooth_track(track, request.smoothing)
        exp, pose = exp + exp_d, pose + pose_d
        out_path = ctx.job_dir / "expression.mp4"
        audio = request.video if info.has_audio else None
        with VideoWriter(out_path, fps=FPS, audio=audio, crf=request.crf) as writer, \
                EncoderThread(writer, ctx.stage) as encoder, ctx.span(0.3, 1.0):
            for i, frame in enumerate(iter_video_frames(request.video, fps=FPS)):
                if i >= frames:
                    break
                ctx.check_cancelled()
                crop = track.crops[i]
                with ctx.stage("render"):
                    crop512 = warp(frame, crop.M_o2c, 512)
                    img256 = cv2.resize(crop512, (256, 256), interpolation=cv2.INTER_AREA)
                    source = r.extract_source(image_to_tensor(img256, r.device))
                    face = PreparedFace(frame, crop, source, eye_close_ratios(crop.landmarks_203),
                                        lip_close_ratio(crop.landmarks_203))
                    x_d = driving_keypoints(r, face, exp[i:i + 1], pose[i:i + 1], t[i:i + 1],
                                            setup.plan.retarget)
                    rendered = r.render(source, x_d)
                with ctx.stage("paste-back"):
                    encoder.put(PasteBack(frame, crop)(rendered).cpu().numpy())
                ctx.count(i + 1, frames, "rendering")
    return ctx.result(out_path, frames=frames, width=int(info.width), height=int(info.height))


# ------------------------------------------------------------------------------------------------ entry points
def run(request: ExpressionRequest, ctx: JobContext) -> JobResult:
    ctx.progress(0.0, "loading models and cropping the face")
    setup = _setup(request, ctx)
    if request.video is not None:
        return _video(request, setup, ctx)
    if request.audio is not None:
        return _photo_audio(request, setup, ctx)
    return _still(setup, ctx)


def preview(request: ExpressionRequest, ctx: JobContext) -> JobResult:
    """Live preview: the source face re-rendered with the edits (render only, 512 crop, no paste-back)."""
    from PIL import Image

    setup = _setup(request, ctx)
    with ctx.stage("render"):
        frame = setup.renderer.render(setup.face.source, still_keypoints(setup.renderer, setup.face, setup.plan))
    path = ctx.job_dir / "preview.png"
    Image.fromarray(to_uint8(frame)[0]).save(path)
    return ctx.result(path, crop_box=setup.face.crop.box.tolist(), face_reused=setup.face_reused)
