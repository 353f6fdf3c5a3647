"""Prepared video: face track, crop boxes, VAE latent posteriors and parsing masks, cached on disk.

Each frame's blend weights (``blend.frame_alpha``, the size of its face box) are made once here, so generation only
pastes. The cache lives in ``cache_dir()/lipdub/<key>/`` where the key hashes the video's content and every parameter
the
data depends on (crop rule, face choice, smoothing, parsing mode, the VAE and parser files). Per-frame arrays are
``.npy`` files written and read through memory maps, so RAM holds one batch whatever the video length. Posterior
moments (not samples) are stored, so the seed is applied at generation time and does not invalidate the cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from core import paths
from core.engines.lipdub.face import crop as C
from core.engines.lipdub.face import landmarks as L
from core.engines.lipdub.face.parsing import mode_mask, parse
from core.engines.lipdub.face.track import FaceTracker
from core.errors import BadInputError
from core.weights import content_hash

from . import blend as B
from . import models as M
from .source import FrameSource, timed_prefetch

FORMAT = 3  # 2: parsing input resized with PIL like the reference; 3: blend alphas instead of packed masks
TRACK_BATCH = 16


class AlphaStore:
    """Per-frame uint8 blend weights of differing box sizes in one flat array (memory-mapped from the cache).

    Frame j's weights are ``flat[offsets[j]:offsets[j + 1]]`` shaped like its box; frames without a face have none.
    Indexing with an array of frame numbers gives a list of [h, w] arrays.
    """

    def __init__(self, flat: np.ndarray, boxes: np.ndarray, valid: np.ndarray):
        self.flat, self.boxes = flat, boxes
        self.offsets = alpha_offsets(boxes, valid)

    def __getitem__(self, frames) -> list[np.ndarray]:
        out = []
        for j in np.atleast_1d(frames):
            x1, y1, x2, y2 = (int(v) for v in self.boxes[j])
            out.append(np.asarray(self.flat[self.offsets[j]:self.offsets[j + 1]]).reshape(y2 - y1, x2 - x1))
        return out


def alpha_offsets(boxes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """[N + 1] start of each frame's weights in the flat store (box area for frames with a face, else 0)."""
    areas = np.where(valid, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 0).astype(np.int64)
    return np.concatenate([[0], np.cumsum(areas)])


@dataclass
class Prepared:
    n: int
    hw: tuple[int, int]
    boxes: np.ndarray  # [N, 4] int crop boxes
    valid: np.ndarray  # [N] bool: the face was found (others pass through untouched)
    landmarks: np.ndarray  # [N, 68, 2] float32, NaN where none (manual box or no face)
    moments: np.ndarray  # [N, 4, 4, 32, 32] float32 memmap: masked mean/std, reference mean/std
    masks: AlphaStore  # per-frame uint8 blend weights over the face box
    cache_hit: bool
    folder: Path
    temporary: bool  # built with the cache off: the engine deletes it after the run

    def shift_range(self) -> tuple[int, int] | None:
        good = ~np.isnan(self.landmarks[:, 0, 0])
        return C.shift_range(self.landmarks[good]) if good.any() else None


def cache_key(req, source_hash: str, root: Path, dtype) -> str:
    def ident(p: Path) -> list:
        st = p.stat()
        return [p.name, st.st_size, st.st_mtime_ns]

    vae = root / "sd-vae"
    params = {
        "format": FORMAT, "video": source_hash, "box": req.box, "face": req.face, "point": req.point,
        "max_side": int(req.max_side),
        "shift": int(req.bbox_shift), "margin": req.margin, "smooth": bool(req.smooth), "mode": req.mode,
        "cheeks": [int(req.left_cheek_width), int(req.right_cheek_width)],
        "detector": [L.DETECT_SIDE, L.DETECT_THRESHOLD, L.FAN_CROP_SCALE],
        "files": [ident(f) for f in sorted(vae.iterdir()) if f.is_file()] + [ident(root / M.W.PARSER)],
        "dtype": str(dtype),
    }
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:24]


def track(source: FrameSource, req, root: Path, device, ctx, report) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop boxes, validity and landmarks for every frame (detection + landmarks, or the manual box)."""
    n, hw = source.n, source.hw
    landmarks = np.full((n, 68, 2), np.nan, dtype=np.float32)
    if req.box:
        box = C.manual_box(source.scaled(req.box), hw, source.name)
        return np.tile(np.array(box, dtype=np.int64), (n, 1)), np.ones(n, dtype=bool), landmarks
    with ctx.stage("load_models"):
        detector = M.load_detector(root, device, ctx.placement)
        fan = M.load_landmarker(root, device, ctx.placement)
    tracker = FaceTracker(face=req.face, point=tuple(source.scaled(req.point)) if req.point else None)
    boxes = np.zeros((n, 4), dtype=np.int64)
    valid = np.zeros(n, dtype=bool)
    for start, frames in timed_prefetch(source.batches(TRACK_BATCH), ctx):
        with ctx.stage("face_track"):
            dets = L.detect_faces(detector, frames, device)
            chosen = [tracker.update(d) for d in dets]
            rows = [k for k, d in enumerate(chosen) if d is not None]
            if rows:
                lms = L.landmarks68(fan, frames[rows], np.stack([chosen[k] for k in rows]), device)
                for k, lm in zip(rows, lms):
                    box = C.landmark_box(lm, req.bbox_shift, req.margin, hw, fallback=chosen[k])
                    if box is not None and start + k < n:
                        boxes[start + k], valid[start + k] = box, True
                        landmarks[start + k] = lm
        report(min(start + len(frames), n) / n, f"face track {min(start + len(frames), n)}/{n}")
    if not valid.any():
        raise BadInputError(f"no face found in {source.name}; draw a box with --box x1,y1,x2,y2")
    if req.smooth:
        boxes = np.where(valid[:, None], C.smooth_boxes(boxes, valid), boxes)
    return boxes, valid, landmarks


def vae_inputs(frames: np.ndarray, boxes) -> torch.Tensor:
    """[2B, 3, 256, 256] in [-1, 1], contiguous NCHW: lower-half-masked crops then the same crops unmasked (reference
    ``VAE.preprocess_img``).

    Contiguous matters on the CPU: PyTorch's channels-last GroupNorm there loses precision on inputs with a large
    mean/std ratio (the masked half is constant -1), moving posterior means by ~5e-4 against ~2e-6 in NCHW."""
    crops = [cv2.resize(f[y1:y2, x1:x2], (256, 256), interpolation=cv2.INTER_LANCZOS4)
             for f, (x1, y1, x2, y2) in zip(frames, boxes)]
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    masked = x.clone()
    masked[:, :, 128:] = -1.0
    return torch.cat([masked, x]).contiguous()


@torch.inference_mode()
def materials(frames: np.ndarray, boxes, vae, parser, mode: str, cheeks, device, dtype, ctx):
    """Posterior moments [B, 4, 4, 32, 32] and packed masks [B, 32768] for frames with their crop boxes."""
    with ctx.stage("vae_encode"):
        x = vae_inputs(frames, boxes).to(device, dtype)
        if x.is_cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        dist = vae.encode(x).latent_dist
        b = len(frames)
        mean, std = dist.mean.float(), dist.std.float()
        moments = torch.stack([mean[:b], std[:b], mean[b:], std[b:]], dim=1).cpu().numpy()
    with ctx.stage("parse"):
        maps = parse(parser, [B.crop_padded(frame, B.crop_box(box)[0]) for frame, box in zip(frames, boxes)], device)
        masks = np.stack([B.pack_mask(mode_mask(m, mode, *cheeks)) for m in maps])
    return moments, masks


def prepare(source: FrameSource, req, root: Path, device, dtype, ctx, report) -> Prepared:
    """Load the prepared video from the cache, or build it (two streaming passes) and store it."""
    with ctx.stage("hash"):
        key = cache_key(req, content_hash(source.path), root, dtype)
    folder = paths.cache_dir() / "lipdub" / key
    if req.use_cache and (folder / "meta.json").is_file():
        with ctx.stage("cache_load"):
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            ctx.log(f"prepared-video cache hit {folder}")
            return _load(folder, meta, True, False)

    boxes, valid, landmarks = track(source, req, root, device, ctx, lambda f, m: report(0.5 * f, m))
    n = source.n
    tmp = folder.parent / f".{key}.{uuid.uuid4().hex[:6]}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        moments = np.lib.format.open_memmap(tmp / "moments.npy", mode="w+", dtype=np.float32, shape=(n, 4, 4, 32, 32))
        offsets = alpha_offsets(boxes, valid)
        alphas = np.lib.format.open_memmap(tmp / "alphas.npy", mode="w+", dtype=np.uint8, shape=(int(offsets[-1]),))
        with ctx.stage("load_models"):
            vae = M.load_vae(root, device, dtype, ctx.placement)
            parser = M.load_parser(root, device, dtype, ctx.placement)
        cheeks = (int(req.left_cheek_width), int(req.right_cheek_width))
        for start, frames in timed_prefetch(source.batches(int(req.batch_size)), ctx):
            rows = [k for k in range(len(frames)) if start + k < n and valid[start + k]]
            if rows:
                mom, msk = materials(frames[rows], boxes[[start + k for k in rows]], vae, parser, req.mode, cheeks,
                                     device, dtype, ctx)
                idx = [start + k for k in rows]
                moments[idx] = mom
                for j, packed in zip(idx, msk):
                    alphas[offsets[j]:offsets[j + 1]] = B.frame_alpha(B.unpacked(packed), boxes[j]).reshape(-1)
            done = min(start + len(frames), n)
            report(0.5 + 0.5 * done / n, f"preparing crops and masks {done}/{n}")
        moments.flush()
        alphas.flush()
        del moments, alphas
        np.save(tmp / "boxes.npy", boxes)
        np.save(tmp / "valid.npy", valid)
        np.save(tmp / "landmarks.npy", landmarks)
        (tmp / "meta.json").write_text(json.dumps({"n": n, "hw": list(source.hw), "video": str(source.path)}),
                                       encoding="utf-8")
        if req.use_cache:
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
            final = folder
        else:
            final = tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _load(final, {"n": n, "hw": list(source.hw)}, False, not req.use_cache)


def _load(folder: Path, meta: dict, cache_hit: bool, temporary: bool) -> Prepared:
    """The prepared video stored in ``folder`` (per-frame arrays memory-mapped)."""
    boxes, valid = np.load(folder / "boxes.npy"), np.load(folder / "valid.npy")
    alphas = AlphaStore(np.load(folder / "alphas.npy", mmap_mode="r"), boxes, valid)
    return Prepared(meta["n"], tuple(meta["hw"]), boxes, valid, np.load(folder / "landmarks.npy"),
                    np.load(folder / "moments.npy", mmap_mode="r"), alphas, cache_hit, folder, temporary)
