"""Face boxes (facexlib RetinaFace) and 68-point iBUG landmarks (facexlib AWing FAN, 98 WFLW points mapped to 68).

Both run batched on the engine's device. Frames are detected at most ``DETECT_SIDE`` px on the long side (boxes are
scaled back), the FAN sees a square crop of ``FAN_CROP_SCALE`` x the box's long side resampled to 256 px, and heatmaps
are decoded on the device with AWing's quarter-pixel rule. facexlib's own ``get_landmarks`` relies on ``np.float``,
which numpy 2 removed, hence this decoder.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

DETECT_SIDE = 640
DETECT_THRESHOLD = 0.8
FAN_CROP_SCALE = 1.25
_BGR_MEAN = (104.0, 117.0, 123.0)


def wflw98_to_ibug68() -> np.ndarray:
    """A [68, 98] averaging matrix: the standard WFLW -> iBUG map (facexlib's ``landmark_98_to_68``)."""
    m = np.zeros((68, 98), dtype=np.float32)
    for i in range(17):  # jaw: every other contour point
        m[i, 2 * i] = 1
    for i in range(51, 60):  # nose
        m[i - 24, i] = 1
    for i in range(76, 96):  # mouth
        m[i - 28, i] = 1
    m[17, 33] = m[26, 46] = 1  # brow ends
    for j, (a, b) in enumerate([(34, 41), (35, 40), (36, 39), (37, 38)]):
        m[18 + j, a] = m[18 + j, b] = 0.5
    for j, (a, b) in enumerate([(42, 50), (43, 49), (44, 48), (45, 47)]):
        m[22 + j, a] = m[22 + j, b] = 0.5
    for dst, src in zip(range(36, 48), [60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75]):  # eyes
        m[dst, src] = 1
    return m


_MAP = torch.from_numpy(wflw98_to_ibug68())


@torch.inference_mode()
def detect_faces(detector, frames: np.ndarray, device) -> list[np.ndarray]:
    """Per frame, an [n, 5] array (x1, y1, x2, y2, score) in frame pixels, best score first."""
    from facexlib.detection.retinaface_utils import PriorBox, batched_decode, py_cpu_nms

    h, w = frames.shape[1:3]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float()
    if scale < 1.0:
        x = F.interpolate(x, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="bilinear",
                          antialias=True, align_corners=False)
    x = x.flip(1) - torch.tensor(_BGR_MEAN, device=device).view(1, 3, 1, 1)  # RGB -> BGR, mean removed
    loc, conf, _ = detector(x)
    priors = PriorBox(detector.cfg, image_size=x.shape[2:]).forward().to(device).unsqueeze(0)
    sh, sw = x.shape[2:]
    boxes = batched_decode(loc, priors, detector.cfg["variance"])
    boxes = boxes * torch.tensor([sw, sh, sw, sh], device=device) / scale
    scores = conf[:, :, 1]
    out = []
    for b, s in zip(boxes, scores):
        keep = s > DETECT_THRESHOLD
        dets = torch.cat([b[keep], s[keep, None]], dim=1).float().cpu().numpy()
        if len(dets):
            dets = dets[py_cpu_nms(dets, 0.4)]
        out.append(dets.reshape(-1, 5))
    return out


def _decode_heatmaps(heat: torch.Tensor) -> torch.Tensor:
    """[B, N, 64, 64] -> [B, N, 2] heatmap coordinates: argmax, a quarter pixel towards the higher neighbour, +0.5."""
    b, n, hh, ww = heat.shape
    flat = heat.reshape(b, n, hh * ww)
    idx = flat.argmax(-1)
    x, y = (idx % ww).float(), (idx // ww).float()

    def at(i):
        return flat.gather(-1, i.clamp(0, hh * ww - 1).unsqueeze(-1)).squeeze(-1)

    dx = torch.sign(at(idx + 1) - at(idx - 1))
    dy = torch.sign(at(idx + ww) - at(idx - ww))
    return torch.stack([x + 0.25 * dx + 0.5, y + 0.25 * dy + 0.5], dim=-1)


@torch.inference_mode()
def landmarks68(fan, frames: np.ndarray, boxes: np.ndarray, device) -> np.ndarray:
    """68 iBUG landmarks [n, 68, 2] for one face box per frame (frames [n, H, W, 3] RGB uint8, boxes [n, 4])."""
    if len(boxes) == 0:
        return np.zeros((0, 68, 2), dtype=np.float32)
    n, h, w = frames.shape[:3]
    boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float32)[:, :4], device=device)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = (boxes[:, 2:] - boxes[:, :2]).max(dim=1).values * FAN_CROP_SCALE
    # Affine grid sampling a side x side square around the centre, in normalised [-1, 1] frame coordinates.
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = side / w
    theta[:, 1, 1] = side / h
    theta[:, 0, 2] = centre[:, 0] / w * 2 - 1
    theta[:, 1, 2] = centre[:, 1] / h * 2 - 1
    img = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float() / 255.0
    grid = F.affine_grid(theta, (n, 3, 256, 256), align_corners=False)
    crops = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    outputs, _ = fan(crops)
    pts = _decode_heatmaps(outputs[-1][:, :-1].float())  # drop the boundary channel
    pts = pts * (side / 64.0)[:, None, None] + (centre - side[:, None] / 2)[:, None, :]
    return torch.einsum("ij,bjk->bik", _MAP.to(device), pts).cpu().numpy()
