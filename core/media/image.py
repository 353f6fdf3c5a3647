"""Still images as upright RGB uint8, whatever mode or orientation the creator's file is in."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import BadInputError
from core.media._common import check_file

_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def load_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 HxWx3: EXIF orientation applied, transparency composited over white, any mode converted."""
    p = check_file(path)
    try:
        with Image.open(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im)
    except UnidentifiedImageError as exc:
        raise BadInputError(f"{p.name} is not an image Mouthpiece can read (use PNG, JPEG, WebP or BMP)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"{p.name} is a corrupt or unsupported image ({exc})") from exc


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in _SIXTEEN_BIT:  # convert("L") would clip 16-bit values instead of scaling them
        gray = np.asarray(im, dtype=np.float32)
        gray = gray / 257.0 if gray.max(initial=0) > 255 else gray
        gray = np.clip(gray + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if (im.mode == "P" and "transparency" in im.info) or im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
