"""A batch's state as the driver sees it: one ``RowState`` per manifest row, the overall progress line, the
``batch.json`` summary and the table printed at the end. The local and the Ray runner update the same object.

Row statuses: ``pending`` (not started yet), ``running``, ``done``, ``failed``, ``cancelled``, and ``bad`` (refused by
validation, never run). ``reused`` marks a row a rerun found already done.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.jobs import format_seconds

FINAL = ("done", "failed", "cancelled", "bad")


@dataclass
class RowState:
    row: int
    name: str
    engine: str
    status: str = "pending"
    output: str | None = None
    seconds: float | None = None
    error: str = ""
    job: str | None = None
    attempts: int = 0
    reused: bool = False
    fraction: float = 0.0       # of the running job
    message: str = ""           # the running job's last progress line, or a retry note
    worker: int | None = None   # pid of the process running it (this one, or a Ray actor's)

    def record(self) -> dict[str, Any]:
        """The row as ``batch.json`` keeps it."""
        data = asdict(self)
        for key in ("fraction", "message", "worker"):
            data.pop(key)
        return data


@dataclass
class Batch:
    out_dir: Path
    rows: list[RowState]
    runner: str = "local"
    workers: int = 1
    manifest: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @classmethod
    def from_items(cls, items: list, out_dir: Path, runner: str = "local", manifest: str | None = None) -> Batch:
        rows = []
        for item in items:
            row = RowState(item.number, item.name, item.engine, job=str(item.job_dir) if item.job_dir else None)
            if item.error:
                row.status, row.error = "bad", item.error
            elif item.done:
                row.status, row.reused, row.output = "done", True, str(item.output)
                row.seconds = _recorded_seconds(item.job_dir)
            rows.append(row)
        return cls(Path(out_dir), rows, runner=runner, manifest=manifest)

    def row(self, number: int) -> RowState:
        return next(r for r in self.rows if r.row == number)

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("done", "failed", "running", "pending", "cancelled", "bad")}
        for r in self.rows:
            counts[r.status] += 1
        return counts

    def fraction(self) -> float:
        """Share of the runnable rows finished, running rows counted by their own progress."""
        runnable = [r for r in self.rows if r.status != "bad" and not r.reused]
        if not runnable:
            return 1.0
        finished = sum(1.0 if r.status in FINAL else r.fraction if r.status == "running" else 0.0 for r in runnable)
        return finished / len(runnable)

    def seconds_left(self) -> float | None:
        """Time left from the mean time of the rows finished in this run, shared among the workers."""
        timed = [r.seconds for r in self.rows if r.status == "done" and not r.reused and r.seconds]
        if not timed:
            return None
        mean = sum(timed) / len(timed)
        rows_left = sum(1.0 if r.status == "pending" else 1.0 - r.fraction for r in self.rows
                        if r.status in ("pending", "running"))
        return mean * rows_left / max(self.workers, 1)

    def line(self) -> str:
        """One progress line: rows done / failed / running, and the time left once a row has finished."""
        c = self.counts()
        parts = [f"{c['done']}/{len(self.rows)} done", f"{c['failed']} failed", f"{c['running']} running"]
        if c["bad"]:
            parts.append(f"{c['bad']} bad")
        left = self.seconds_left()
        if left is not None and (c["pending"] or c["running"]):
            parts.append(f"{format_seconds(left)} left")
        return " · ".join(parts)

    @property
    def ok(self) -> bool:
        return all(r.status == "done" for r in self.rows)

    def record(self) -> dict[str, Any]:
        def stamp(t: float | None) -> str | None:
            return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds") if t else None

        return {"manifest": self.manifest, "out_dir": str(self.out_dir), "runner": self.runner,
                "workers": self.workers, "started": stamp(self.started), "finished": stamp(self.finished),
                "counts": self.counts(), "rows": [r.record() for r in self.rows]}

    def write(self) -> Path:
        """``<out-dir>/batch.json``, replaced atomically."""
        path = self.out_dir / "batch.json"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".batch.json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.record(), indent=2), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def table(self) -> str:
        """The rows as a plain-text table (row, name, engine, status, seconds, output or error)."""
        lines = [("row", "name", "engine", "status", "time", "output / error")]
        for r in self.rows:
            status = r.status + (" (kept)" if r.reused else "") + (f" ({r.attempts} tries)" if r.attempts > 1 else "")
            time_ = format_seconds(r.seconds) if r.seconds is not None else ""
            lines.append((str(r.row), r.name, r.engine, status, time_, r.error or r.output or ""))
        widths = [max(len(line[i]) for line in lines) for i in range(5)]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line[:5], widths)) + "  " + line[5]
                         for line in lines)


def _recorded_seconds(job_dir: Path | None) -> float | None:
    try:
        status = json.loads((Path(job_dir) / "status.json").read_text(encoding="utf-8"))
        return float(status["timings"]["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
