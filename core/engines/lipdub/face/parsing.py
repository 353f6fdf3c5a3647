"""Face-parsing masks as MuseTalk builds them (``FaceParsing.__call__``): raw, neck and jaw modes on a 512x512 map.

Classes (CelebAMask-HQ): 1 skin, 10 nose, 11 mouth, 12-13 lips, 14 neck. ``jaw`` dilates the skin with a downward cone
kernel (the jaw may open below the skin line), erodes it in the cheek columns with a flat ellipse, and keeps the nose
out.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import torch
from PIL import Image

PARSE_SIZE = 512
MODES = ("jaw", "raw", "neck")
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@lru_cache(maxsize=1)
def jaw_kernel() -> np.ndarray:
    """33x33: rows 10-20 a cone widening by one column each side per row, rows 21-32 a stem as wide as row 20."""
    cone, tail = 21, 12
    size = cone + tail
    k = np.zeros((size, size), dtype=np.uint8)
    c = size // 2
    for row in range(cone // 2, cone):
        half = row - cone // 2
        k[row, c - half:c + half + 1] = 1
    half = int(k[cone - 1].sum()) // 2
    k[cone:, max(0, c - half):min(size, c + half + 1)] = 1
    return k


@lru_cache(maxsize=1)
def cheek_kernel() -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (35, 3))


@lru_cache(maxsize=16)
def cheek_mask(left: int, right: int) -> np.ndarray:
    """255 in the cheek columns [0, 256-left] and [256+right, 511] (inclusive, as cv2.rectangle fills them)."""
    m = np.zeros((PARSE_SIZE, PARSE_SIZE), dtype=np.uint8)
    c = PARSE_SIZE // 2
    m[:, :max(0, c - left + 1)] = 255
    m[:, min(PARSE_SIZE, c + right):] = 255
    return m


def mode_mask(parsing: np.ndarray, mode: str = "jaw", left: int = 90, right: int = 90) -> np.ndarray:
    """uint8 0/255 mask from a [512, 512] class map."""
    if mode == "raw":
        return np.where(np.isin(parsing, (1, 11, 12, 13)), 255, 0).astype(np.uint8)
    if mode == "neck":
        return np.where(np.isin(parsing, (1, 11, 12, 13, 14)), 255, 0).astype(np.uint8)
    if mode != "jaw":
        raise ValueError(f"unknown parsing mode {mode!r}")
    skin = np.where(parsing == 1, 255, 0).astype(np.uint8)
    dilated = cv2.dilate(skin, jaw_kernel(), iterations=1)
    eroded = cv2.erode(dilated, cheek_kernel(), iterations=2)
    cheeks = cheek_mask(int(left), int(right))
    region = cv2.bitwise_or(cv2.bitwise_and(eroded, cheeks), cv2.bitwise_and(dilated, cv2.bitwise_not(cheeks)))
    keep = ((region == 255) & (parsing != 10)) | np.isin(parsing, (11, 12, 13))
    return np.where(keep, 255, 0).astype(np.uint8)


def parser_input(crop: np.ndarray) -> np.ndarray:
    """The uint8 [512, 512, 3] image BiSeNet sees for an RGB uint8 crop: PIL's BILINEAR resize, as the reference's
    ``FaceParsing.__call__`` makes it (two separable passes, each rounded to uint8). A float resize flips near-tie
    pixels of the class map (247 of 262,144 in raw mode on a real face)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((PARSE_SIZE, PARSE_SIZE), Image.BILINEAR))


@torch.inference_mode()
def parse(net, crops, device=None) -> np.ndarray:
    """Class maps [B, 512, 512] for RGB uint8 crops ([h, w, 3] each, any size), normalised like the reference.
    ``device``: where the net computes (the model cache may keep its weights elsewhere); default: its weights'."""
    param = next(net.parameters())
    x = torch.from_numpy(np.stack([parser_input(c) for c in crops])).to(device or param.device).permute(0, 3, 1, 2)
    x = x.float() / 255.0
    mean = torch.tensor(_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(_STD, device=x.device).view(1, 3, 1, 1)
    x = ((x - mean) / std).to(param.dtype)
    x = x.contiguous(memory_format=torch.channels_last) if x.is_cuda else x.contiguous()
    return net(x).argmax(1).to(torch.uint8).cpu().numpy()
