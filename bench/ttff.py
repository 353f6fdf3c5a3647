"""Time to first frame: the seconds from Generate to the first playable segment of a streamed result.

``ttff = FirstSegment()`` then ``run_job(..., on_segment=ttff)``; ``ttff.seconds`` is the figure (None if the job
streamed nothing). Before streaming (issue 17) the first frame a creator saw was the finished file: the job's total
time, which each bench prints beside it as ``ttff_before_s``.
"""
from __future__ import annotations

import time


class FirstSegment:
    """An ``on_segment`` callback that keeps the time of the first segment since it was made (or ``restart()``)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.started, self.seconds, self.count = time.perf_counter(), None, 0

    def __call__(self, segment) -> None:
        if self.seconds is None:
            self.seconds = time.perf_counter() - self.started
        self.count += 1

    def figures(self, total_s: float) -> dict:
        """{"ttff_s": streamed, "ttff_before_s": the whole job, "segments": n}."""
        return {"ttff_s": None if self.seconds is None else round(self.seconds, 2), "ttff_before_s": round(total_s, 2),
                "segments": self.count}
