"""Past jobs, read back from their folders ``outputs/<job-id>/`` (request.json, status.json, log.txt).

A job folder is named ``<YYYYmmdd-HHMMSS>-<engine>-<hex>`` (``core.jobs.new_job_dir``). A folder without a
status.json is a job still running (or one whose process died): its status reads "running". A batch folder (one
holding ``batch.json``, ``core.batch``) lists its rows' job folders too, as ``<batch folder>/<row folder>``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core import paths
from core.errors import BadInputError

# Request fields that describe the machine rather than the creative choice: left out of the one-line summary.
_NOT_PARAMETERS = {"output", "device", "dtype", "checkpoints", "use_cache"}


@dataclass
class Run:
    job_id: str
    folder: Path
    engine: str
    started: datetime | None
    status: str                         # done | failed | cancelled | running
    request: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    output: Path | None = None          # the result file, when the job finished and it is still there
    error: str = ""

    @property
    def kind(self) -> str:
        """"video" for a finished job's video, "preview" for a picture, "" when there is no result."""
        if self.output is None:
            return ""
        return "preview" if self.output.suffix.lower() in (".png", ".jpg") else "video"

    def parameters(self) -> str:
        """The creative choices as one line: input names, the audio range, and every engine setting."""
        parts = []
        for key, value in self.request.items():
            if key in _NOT_PARAMETERS or value in (None, "", [], {}):
                continue
            if key == "audio" and isinstance(value, dict):
                parts.append(_audio_summary(value))
            elif isinstance(value, str) and ("/" in value or "\\" in value):
                parts.append(f"{key}={Path(value).name}")
            else:
                parts.append(f"{key}={value}")
        return " · ".join(parts)


def _audio_summary(audio: dict[str, Any]) -> str:
    name = Path(str(audio.get("audio", ""))).name
    start, end = audio.get("start"), audio.get("end")
    span = f" {start or 0:g}–{end:g} s" if end else (f" from {start:g} s" if start else "")
    return f"audio={name}{span}" + (" (vocals)" if audio.get("separate_vocals") else "")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _started(job_id: str) -> datetime | None:
    try:
        return datetime.strptime(job_id[:15], "%Y%m%d-%H%M%S")
    except ValueError:
        return None


def read_run(folder: Path) -> Run:
    """The run one job folder records."""
    request = _read_json(folder / "request.json")
    status = _read_json(folder / "status.json")
    output = status.get("output")
    output_path = Path(output) if output and Path(output).is_file() else None
    engine = request.get("engine") or (folder.name.split("-")[2] if folder.name.count("-") >= 3 else "?")
    return Run(job_id=folder.name, folder=folder, engine=engine, started=_started(folder.name),
               status=status.get("status", "running"), request=request.get("request") or {},
               timings=status.get("timings") or {}, output=output_path, error=status.get("error") or "")


def list_runs(root: Path | None = None, limit: int = 100) -> list[Run]:
    """The newest ``limit`` job folders under ``root`` (default outputs/), newest first."""
    root = Path(root) if root is not None else paths.outputs_dir()
    if not root.is_dir():
        return []
    folders = sorted(_job_folders(root), reverse=True)
    return [_named(read_run(folder), job_id) for job_id, folder in folders[:limit]]


def _job_folders(root: Path) -> list[tuple[str, Path]]:
    """(job id, folder) of the job folders under ``root`` and of the rows of its batch folders."""
    found = []
    for p in root.iterdir():
        if p.is_dir() and (p / "request.json").is_file():
            found.append((p.name, p))
        elif p.is_dir() and (p / "batch.json").is_file():
            found += [(f"{p.name}/{q.name}", q) for q in p.iterdir() if q.is_dir() and (q / "request.json").is_file()]
    return found


def _named(run: Run, job_id: str) -> Run:
    run.job_id, run.started = job_id, _started(job_id)
    return run


def find_run(job_id: str, root: Path | None = None) -> Run:
    """The run named ``job_id``; a name that is not a job folder under outputs/ is refused (no path tricks)."""
    root = Path(root) if root is not None else paths.outputs_dir()
    parts = str(job_id).split("/")
    plain = all(part and Path(part).name == part and part not in (".", "..") for part in parts)
    folder = root.joinpath(*parts) if plain else root
    in_batch = len(parts) == 1 or (len(parts) == 2 and (root / parts[0] / "batch.json").is_file())
    if not job_id or not plain or not in_batch or not (folder / "request.json").is_file():
        raise BadInputError(f"no run named {job_id!r} in {root}")
    return _named(read_run(folder), str(job_id))


def rerun_request(run: Run):
    """The engine and request to run a past job again: its request as recorded, the result kept in the new job's
    folder (not copied over the old run's output path)."""
    from core.engine import ENGINES

    engine = next((e for e in ENGINES if e.name == run.engine and e.generates), None)
    if engine is None:
        raise BadInputError(f"{run.job_id} is a {run.engine} job; only engine jobs (video results) can be run again")
    try:
        request = engine.request_type.from_dict({**run.request, "output": None})
    except TypeError as exc:
        raise BadInputError(f"{run.job_id}'s request.json does not fit this version's {engine.name} request "
                            f"({exc})") from exc
    return engine, request.validate()
