"""Frames of the video (or still image) to dub at 25 fps, read forward in batches or by index.

By-index reads serve the ping-pong loop without holding the video: frames are decoded in chunks, a chunk that does
not continue the current forward pass is re-read from a seek, and only two chunks are kept.
"""
from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.errors import BadInputError
from core.media import count_output_frames, iter_video_frames, load_image, probe

FPS = 25


def pingpong(i: int, n: int) -> int:
    """Source frame for output frame i: forward, then backward, repeating (reference ``frames + frames[::-1]``)."""
    if n <= 1:
        return 0
    j = i % (2 * n)
    return j if j < n else 2 * n - 1 - j



class FrameSource:
    """The picture to dub at its working size: a video or photo whose longer side exceeds ``max_side`` (0 = keep) is
    read downscaled (``scale`` < 1, with a line in ``warnings``); boxes and points given in the file's pixels are
    mapped with ``scaled()``."""

    def __init__(self, path: str | Path, chunk: int | None = None, max_side: int = 0):
        self.path = Path(path)
        info = probe(self.path)
        self.name = info.name
        self.kind = info.kind
        self.warnings: list[str] = []  # e.g. a truncated file: how much of it could be read
        if info.kind == "image":
            self._image = load_image(self.path)
            self.n = 1
        elif info.kind == "video":
            self._image = None
            self.n = count_output_frames(info, FPS)
        else:
            raise BadInputError(f"{info.name} has no picture: give a video or an image to dub")
        full = (info.height, info.width) if self._image is None else self._image.shape[:2]
        self.hw, self.scale = working_size(full, max_side)
        if self.scale < 1:
            self._warn(f"{self.name} is {full[1]}x{full[0]}: dubbed at {self.hw[1]}x{self.hw[0]} "
                       f"(max video side {max_side}; 0 keeps the full size)")
            if self._image is not None:
                self._image = _resize(self._image, self.hw)
        # Backward reads decode from the previous keyframe once per chunk, so chunks are as long as ~96 MB allows.
        self.chunk = int(chunk) if chunk else int(np.clip(96 * 2**20 // (self.hw[0] * self.hw[1] * 3), 16, 128))
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._forward: Iterator[np.ndarray] | None = None
        self._forward_at = -1  # next frame index the forward iterator yields

    def scaled(self, coords) -> list[float] | None:
        """A box or point in the file's pixels, in the pixels of the working size."""
        return None if coords is None else [float(v) * self.scale for v in coords]

    def _frames_from(self, start: float = 0.0) -> Iterator[np.ndarray]:
        frames = iter_video_frames(self.path, fps=FPS, start=start, on_short=self._warn)
        return frames if self.scale == 1 else (_resize(frame, self.hw) for frame in frames)

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def batches(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first index, [B, H, W, 3]) over the whole video, in order."""
        if self._image is not None:
            yield 0, self._image[None]
            return
        batch, start = [], 0
        for i, frame in enumerate(self._frames_from()):
            batch.append(frame)
            if len(batch) == size:
                yield start, np.stack(batch)
                batch, start = [], i + 1
        if batch:
            yield start, np.stack(batch)

    def _read_chunk(self, c: int) -> np.ndarray:
        a, b = c * self.chunk, min((c + 1) * self.chunk, self.n)
        if self._forward is None or self._forward_at != a:
            self._forward = self._frames_from(a / FPS)
            self._forward_at = a
        frames = []
        for _ in range(b - a):
            frame = next(self._forward, None)
            if frame is None:  # stream ended early: hold the last frame
                frame = frames[-1] if frames else self._last_known()
            frames.append(frame)
        self._forward_at = b
        return np.stack(frames)

    def _last_known(self) -> np.ndarray:
        if self._chunks:
            return next(reversed(self._chunks.values()))[-1]
        raise BadInputError(f"{self.name}: could not decode any frame")

    def frames(self, indices) -> np.ndarray:
        """[len(indices), H, W, 3] frames by index (0 <= index < n)."""
        if self._image is not None:
            return np.repeat(self._image[None], len(indices), axis=0)
        out = []
        for i in indices:
            c = int(i) // self.chunk
            if c not in self._chunks:
                self._chunks[c] = self._read_chunk(c)
                while len(self._chunks) > 2:
                    self._chunks.popitem(last=False)
            self._chunks.move_to_end(c)
            out.append(self._chunks[c][int(i) - c * self.chunk])
        return np.stack(out)


def working_size(hw: tuple[int, int], max_side: int) -> tuple[tuple[int, int], float]:
    """((height, width), scale) for a picture of ``hw`` whose longer side may be at most ``max_side`` (0 = any);
    the sides stay even (H.264 needs them so)."""
    h, w = int(hw[0]), int(hw[1])
    if not max_side or max(h, w) <= max_side:
        return (h, w), 1.0
    scale = max_side / max(h, w)
    size = (max(2, round(h * scale / 2) * 2), max(2, round(w * scale / 2) * 2))
    return size, size[1] / w


def _resize(frame: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(frame, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)


def prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Run ``items`` on a background thread, ``depth`` ahead, so decoding overlaps the GPU work.

    Errors surface in the consumer; a consumer that stops early lets the producer finish its current item and end.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put((item, None))
        except BaseException as exc:  # noqa: BLE001  (handed to the consumer)
            q.put((None, exc))
            return
        q.put((done, None))

    thread = threading.Thread(target=produce, name="lipdub-decode", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass


def timed_prefetch(items: Iterator, ctx, depth: int = 2) -> Iterator:
    """``prefetch`` for a job: time spent waiting for decoded frames counts as "decode", and cancellation is checked
    between batches."""
    it = prefetch(items, depth)
    try:
        while True:
            with ctx.stage("decode"):
                item = next(it, None)
            if item is None:
                return
            ctx.check_cancelled()
            yield item
    finally:
        it.close()
