"""Batch manifests: CSV, JSONL or YAML files of rows, each row one job in the ``request.json`` vocabulary.

A row is a ``request.json`` body (the engine's request fields, ``audio`` as a nested mapping) plus ``engine`` and an
optional ``name``. Conveniences, the same in every format:

- ``audio`` may be a plain path (the driving audio, every other audio option at its default);
- ``audio.start``, ``audio.end``, ... (dotted keys) set one audio option; handy as CSV columns;
- in CSV, an empty cell means "the default"; a cell for a number, a switch or a list is read as a YAML value
  (``4``, ``true``, ``[8, 8, 56, 56]``; ``off`` / ``on`` / ``yes`` / ``no`` stay text: :func:`scalar`); ``box`` /
  ``point`` also take ``x1,y1,x2,y2`` / ``x,y``;
- YAML may be a list of rows, or a mapping ``{defaults: {...}, rows: [...]}`` whose defaults apply to every row
  (YAML itself reads a bare ``off`` as false: write ``rest: "off"``).

Relative paths (``video``, ``image``, ``transfer_image``, ``output``, ``checkpoints``, ``audio.audio``,
``audio.keep_audio`` when it names a file) resolve against the manifest's folder. Row numbers count data rows from 1
(a CSV header and blank JSONL lines are not rows).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from core.audio.options import KEEP_CHOICES
from core.errors import BadInputError

SUFFIXES = (".csv", ".jsonl", ".yaml", ".yml")
PATH_FIELDS = ("video", "image", "transfer_image", "output", "checkpoints")
AUDIO_PATH_FIELDS = ("audio", "keep_audio")
MEDIA_SUFFIXES = {
    "video": (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"),
    "image": (".png", ".jpg", ".jpeg", ".webp", ".bmp"),
    "audio": (".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac"),
}


def read_manifest(path: str | Path, base: str | Path | None = None) -> list[dict[str, Any]]:
    """The rows of a manifest file as plain mappings, relative paths resolved against ``base`` (default: the
    manifest's folder). BadInputError (one line) for a file that is missing, of an unknown kind, unparsable, or
    without rows."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"manifest {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise BadInputError(f"manifest {path.name}: use a .csv, .jsonl or .yaml file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"manifest {path} cannot be read: {exc}") from exc
    if suffix == ".csv":
        rows = _csv_rows(text)
    elif suffix == ".jsonl":
        rows = _jsonl_rows(text, path)
    else:
        rows = _yaml_rows(text, path)
    if not rows:
        raise BadInputError(f"manifest {path} has no rows")
    base = Path(base).expanduser().resolve() if base else path.resolve().parent
    return [resolve_paths(row, base) if isinstance(row, dict) else row for row in rows]


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(text.splitlines())
    rows = []
    for raw in reader:
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key is None:  # more cells than header columns
                row[""] = value
                continue
            value = (value or "").strip()
            if value == "":
                continue
            key = key.strip()
            if key in ("engine", "name") or key.split(".")[-1] in PATH_FIELDS + AUDIO_PATH_FIELDS + ("prompt",):
                row[key] = value
                continue
            row[key] = scalar(value)
        if row:
            rows.append(row)
    return rows


def scalar(text: str) -> Any:
    """A CSV cell or a ``--set`` value read as YAML (``4``, ``0.5``, ``true``, ``[8, 8, 56, 56]``, ``{smile: 0.5}``),
    except that YAML 1.1's other switches (``off``, ``on``, ``yes``, ``no``) and text that merely looks like a
    mapping (``a: b``) stay text: ``rest: off`` means the choice "off"."""
    import yaml

    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(parsed, bool) and text.strip().lower() not in ("true", "false"):
        return text
    if isinstance(parsed, dict) and not text.lstrip().startswith("{"):
        return text
    return parsed


def _jsonl_rows(text: str, path: Path) -> list[Any]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            raise BadInputError(f"manifest {path.name} line {number} is not JSON: {exc}") from exc
    return rows


def _yaml_rows(text: str, path: Path) -> list[Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInputError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return []
    if isinstance(data, dict):
        defaults = data.get("defaults") or {}
        extra = sorted(set(data) - {"defaults", "rows"})
        if extra or not isinstance(defaults, dict) or not isinstance(data.get("rows") or [], list):
            raise BadInputError(f"manifest {path.name}: a YAML mapping holds 'defaults' (a mapping) and 'rows' "
                                f"(a list){'; not ' + ', '.join(map(repr, extra)) if extra else ''}")
        return [{**defaults, **row} if isinstance(row, dict) else row for row in data.get("rows") or []]
    if not isinstance(data, list):
        raise BadInputError(f"manifest {path.name}: expected a list of rows")
    return data


def nest(row: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys folded into the nested mapping (``audio.start`` -> ``audio: {start}``); a plain ``audio`` path
    becomes ``{audio: path}``."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(key, str) and "." in key:
            head, tail = key.split(".", 1)
            inner = out.setdefault(head, {})
            if not isinstance(inner, dict):
                inner = out[head] = {"audio": inner} if head == "audio" else {}
            inner[tail] = value
        elif key == "audio" and isinstance(value, str):
            out.setdefault("audio", {})
            if isinstance(out["audio"], dict):
                out["audio"]["audio"] = value
            else:
                out["audio"] = value
        elif key == "audio" and isinstance(value, dict) and isinstance(out.get("audio"), dict):
            out["audio"].update(value)
        else:
            out[key] = value
    return out


def resolve_paths(row: dict[str, Any], base: Path) -> dict[str, Any]:
    """The row with its relative file paths made absolute against ``base`` (the manifest's folder)."""
    row = nest(row)

    def absolute(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            return str(base / Path(value))
        return str(Path(value).expanduser()) if isinstance(value, str) and value else value

    for key in PATH_FIELDS:
        if key in row:
            row[key] = absolute(row[key])
    audio = row.get("audio")
    if isinstance(audio, dict):
        audio = dict(audio)
        for key in AUDIO_PATH_FIELDS:
            if key in audio and not (key == "keep_audio" and audio[key] in KEEP_CHOICES):
                audio[key] = absolute(audio[key])
        row["audio"] = audio
    return row


def folder_rows(engine: str, inputs: str | Path, audio: str | Path, kind: str | None = None
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows pairing the videos (``kind="video"``, the default for lipdub) or photos (``"image"``, the default
    otherwise) in the folder ``inputs`` with the audio of the same stem in the folder ``audio``, or with one audio
    file for all. Returns (rows, problems): one line for each input without audio and each audio without an input."""
    kind = kind or ("video" if engine == "lipdub" else "image")
    folder = Path(inputs).expanduser()
    if not folder.is_dir():
        raise BadInputError(f"{folder} is not a folder of {kind}s")
    found = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES[kind]]
    if not found:
        raise BadInputError(f"no {kind}s in {folder} ({', '.join(MEDIA_SUFFIXES[kind])})")
    audio = Path(audio).expanduser()
    if audio.is_dir():
        voices = [p for p in audio.iterdir() if p.is_file()
                  and p.suffix.lower() in MEDIA_SUFFIXES["audio"] + MEDIA_SUFFIXES["video"]]
    elif audio.is_file():
        voices = [audio]
    else:
        raise BadInputError(f"audio {audio} is neither a file nor a folder")
    return pair_files(engine, found, voices, kind)


def pair_files(engine: str, inputs: list[Path], voices: list[Path], kind: str
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows pairing each input with the voice of the same stem (one voice: it drives every input), sorted by name,
    and the problems: one line for each input without a voice and each voice without an input."""
    from core import engine as registry

    registry.get(engine)
    inputs = sorted(inputs, key=lambda p: p.name)
    single = len(voices) == 1
    by_stem = {p.stem: p for p in sorted(voices, key=lambda p: p.name)}
    rows, problems = [], []
    for item in inputs:
        voice = voices[0] if single else by_stem.get(item.stem)
        if voice is None:
            problems.append(f"{item.name}: no audio named {item.stem}.* {_where(voices)}")
            continue
        rows.append({"engine": engine, "name": item.stem, kind: str(Path(item).resolve()),
                     "audio": {"audio": str(Path(voice).resolve())}})
    if not single:
        names = {p.stem for p in inputs}
        problems += [f"{voice.name}: no {kind} named {stem}.* {_where(inputs)}" for stem, voice in by_stem.items()
                     if stem not in names]
    return rows, problems


def _where(files: list[Path]) -> str:
    folders = {Path(f).parent for f in files}
    return f"in {folders.pop()}" if len(folders) == 1 else "among the files given"
