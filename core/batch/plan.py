"""From manifest rows to validated batch items: the engine's request for each row, its job folder, and what a rerun
does with it.

Every row is checked before any work: unknown engine or field, a missing required field, a missing or unreadable
file, a bad value (the engine's own ``validate()``), missing model files, two rows with the same name or the same
output. A bad row's error is ``row N: <the one-line BadInputError>``.

Job folders: ``<out-dir>/<name>-<hash>/``, the hash being that of the engine and the validated request. The result is
delivered to ``<out-dir>/<name>.mp4`` (``.png`` for a still photo edit) unless the row names its own ``output``. A
rerun skips a row whose folder's ``status.json`` says done for the same request (re-delivering the result if its
copy went missing), and runs failed, cancelled, interrupted and changed rows again. A change to an input file's
content under the same path is not noticed (the hash covers the request, not the media).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import BadInputError, MouthpieceError

from .manifest import nest


@dataclass
class Item:
    """One manifest row, validated (``request`` set) or refused (``error`` set)."""

    number: int
    name: str
    engine: str
    request: Any = None
    job_dir: Path | None = None
    error: str = ""
    done: bool = False              # a rerun found it done with the same request
    payload: dict[str, Any] = field(default_factory=dict)   # {"engine", "request"} as plain JSON values

    @property
    def output(self) -> Path | None:
        out = getattr(self.request, "output", None)
        return Path(out) if out else None


def plain(request: Any) -> dict[str, Any]:
    """The request as ``request.json`` stores it (plain JSON values)."""
    return json.loads(json.dumps(dataclasses.asdict(request), default=str))


def request_hash(engine: str, request: Any) -> str:
    text = json.dumps({"engine": engine, "request": plain(request)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def safe_name(text: str) -> str:
    """A row name usable as a file name: letters, digits, ``.``, ``_`` and ``-`` (others become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "row"


def _default_name(data: dict[str, Any]) -> str:
    source = data.get("video") or data.get("image") or "row"
    name = Path(str(source)).stem
    voice = (data.get("audio") or {}).get("audio") if isinstance(data.get("audio"), dict) else None
    if voice and Path(str(voice)).stem != name:
        name += "_" + Path(str(voice)).stem
    return name


def _known_fields(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    """``data`` checked for unknown and missing fields of ``cls``; the values themselves are checked (and coerced)
    by the request's ``validate()`` through the parameter spec, with the labels the studio shows."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise BadInputError(f"unknown field {unknown[0]!r} for {what} (known: {', '.join(names)})")
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    absent = [k for k in required if data.get(k) in (None, "")]
    if absent:
        raise BadInputError(f"{what} needs {absent[0]!r}")
    return data


def build_request(row: Any, defaults: dict[str, Any] | None = None):
    """(engine, validated request, name) for one row (paths already absolute); ``defaults`` fill the fields the row
    leaves out, where the row's engine has them (``audio.rest``: one audio option). BadInputError (one line)
    otherwise."""
    from core import engine as registry
    from core.audio.options import AudioOptions

    if not isinstance(row, dict):
        raise BadInputError(f"a row is a mapping of fields, got {type(row).__name__}")
    data = dict(row)
    if not data.get("engine"):
        raise BadInputError("no engine: add an 'engine' column or field (lipdub, portrait, avatar, expression)")
    engine = registry.get(str(data.pop("engine")))
    if not engine.generates:
        raise BadInputError(f"{engine.name} is a tool, not an engine that makes videos")
    name = data.pop("name", None)
    request_type = engine.request_type
    known = {f.name for f in dataclasses.fields(request_type)}
    for key, value in nest(defaults or {}).items():   # batch-wide values, for the engines that have the field
        if key == "audio" and isinstance(value, dict) and isinstance(data.get("audio"), dict):
            data["audio"] = {**value, **data["audio"]}   # audio options: the row's own win, one by one
        elif value is not None and key in known:
            data.setdefault(key, value)
    if isinstance(data.get("audio"), dict):
        data["audio"] = AudioOptions(**_known_fields(AudioOptions, data["audio"], "the audio"))
    elif data.get("audio") is not None:
        raise BadInputError(f"audio must be a path or a mapping of audio options, got {data['audio']!r}")
    fields = _known_fields(request_type, data, f"a {engine.name} row")
    try:
        request = request_type(**fields).validate()
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"bad value: {exc}") from exc
    return engine, request, safe_name(name if name not in (None, "") else _default_name(row))


def plan(rows: list[Any], out_dir: str | Path, defaults: dict[str, Any] | None = None) -> list[Item]:
    """Validated items for ``rows`` (bad rows carry ``error``), with job folders and default outputs under
    ``out_dir``, and ``done`` set for rows a previous run finished with the same request."""
    from core import weights
    from core.request import check_out_dir

    out_dir = check_out_dir(out_dir).resolve()   # a file, or a folder that cannot be written: one line
    out_dir.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    names: dict[str, int] = {}
    outputs: dict[Path, int] = {}
    for number, row in enumerate(rows, 1):
        guess = row.get("engine", "?") if isinstance(row, dict) else "?"
        try:
            engine, request, name = build_request(row, defaults)
            if name in names:
                raise BadInputError(f"name {name!r} is also row {names[name]}'s: give each row its own name")
            if not request.output:
                suffix = ".png" if getattr(request, "still", False) else ".mp4"
                request.output = str(out_dir / f"{name}{suffix}")
            output = Path(request.output).resolve()
            if output in outputs:
                raise BadInputError(f"output {output} is also row {outputs[output]}'s")
            weights.require(engine.name, request.checkpoints)
        except MouthpieceError as exc:
            items.append(Item(number, str(row.get("name") or f"row{number}") if isinstance(row, dict) else
                              f"row{number}", str(guess), error=f"row {number}: {exc}"))
            continue
        names[name] = number
        outputs[output] = number
        job_dir = out_dir / f"{name}-{request_hash(engine.name, request)}"
        payload = {"engine": engine.name, "request": plain(request)}
        items.append(Item(number, name, engine.name, request, job_dir, payload=payload,
                          done=finished(job_dir, payload)))
    return items


def finished(job_dir: Path, payload: dict[str, Any]) -> bool:
    """True when ``job_dir`` holds a done job of exactly this request whose result is still there."""
    try:
        status = json.loads((job_dir / "status.json").read_text(encoding="utf-8"))
        recorded = json.loads((job_dir / "request.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    output = status.get("output")
    return (status.get("status") == "done" and recorded == payload and bool(output) and Path(output).is_file())
