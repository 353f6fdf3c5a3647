"""Which face to dub: the largest, the N-th from the left, or the one under a point, then followed frame to frame."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MATCH_IOU = 0.2


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def left_to_right(dets: np.ndarray) -> np.ndarray:
    """Detections ordered by box centre x: the order in which faces are numbered for the creator (0 = leftmost)."""
    return dets[np.argsort((dets[:, 0] + dets[:, 2]) / 2, kind="stable")] if len(dets) else dets


def pick(dets: np.ndarray, face: int | None = None, point: tuple[float, float] | None = None) -> int | None:
    """Index into ``dets`` of the chosen face: under ``point``, else number ``face`` from the left, else the largest."""
    if len(dets) == 0:
        return None
    if point is not None:
        px, py = point
        inside = [i for i, d in enumerate(dets) if d[0] <= px <= d[2] and d[1] <= py <= d[3]]
        if inside:
            return min(inside, key=lambda i: (dets[i, 2] - dets[i, 0]) * (dets[i, 3] - dets[i, 1]))
        centres = (dets[:, :2] + dets[:, 2:4]) / 2
        return int(np.argmin(((centres - np.array([px, py])) ** 2).sum(1)))
    if face is not None:
        order = np.argsort((dets[:, 0] + dets[:, 2]) / 2, kind="stable")
        return int(order[face]) if 0 <= face < len(order) else None
    return int(np.argmax((dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])))


@dataclass
class FaceTracker:
    """Stateful: the first frame with faces fixes the choice; later frames take the detection overlapping it most.

    After ``relock_after`` frames without a match (a cut, the person left), the choice rule picks again.
    """

    face: int | None = None
    point: tuple[float, float] | None = None
    relock_after: int = 25
    last: np.ndarray | None = None
    missed: int = 0

    def update(self, dets: np.ndarray) -> np.ndarray | None:
        i = None
        if len(dets):
            if self.last is None or self.missed >= self.relock_after:
                i = pick(dets, self.face, self.point)
            else:
                scores = [iou(self.last, d) for d in dets]
                i = int(np.argmax(scores)) if max(scores) >= MATCH_IOU else None
        if i is None:
            self.missed += 1
            return None
        self.last, self.missed = dets[i, :4].copy(), 0
        return self.last
