"""Presets: a tab's parameters saved as YAML in presets/<tab>/<name>.yaml, keyed by its request dataclass fields."""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import yaml

from core import paths
from core.errors import BadInputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
RequestTypes = type | tuple[type, ...] | None  # a tab's request dataclass, or several (e.g. + AudioOptions)


def presets_dir() -> Path:
    """``$MOUTHPIECE_PRESETS`` or ``<repo>/presets``."""
    env = os.environ.get("MOUTHPIECE_PRESETS")
    return Path(env).expanduser().resolve() if env else paths.REPO_ROOT / "presets"


def _check_name(kind: str, name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name) or ".." in name:
        raise BadInputError(f"preset {kind} {name!r} is not allowed: "
                            "use letters, digits, space, '-', '_' or '.' (max 64)")
    return name


def preset_path(tab: str, name: str) -> Path:
    return presets_dir() / _check_name("tab", tab) / f"{_check_name('name', name)}.yaml"


def list_presets(tab: str) -> list[str]:
    folder = presets_dir() / _check_name("tab", tab)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _check_fields(values: dict[str, Any], request_cls: RequestTypes, where: str) -> None:
    """Keys must be fields of the request dataclass(es); a tab may combine several, e.g. its request + AudioOptions."""
    if request_cls is None:
        return
    classes = request_cls if isinstance(request_cls, tuple) else (request_cls,)
    known = {f.name for cls in classes for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        names = "/".join(cls.__name__ for cls in classes)
        raise BadInputError(f"{where}: unknown parameter(s) {', '.join(unknown)} for {names}")


def save_preset(tab: str, name: str, values: dict[str, Any], request_cls: RequestTypes = None) -> Path:
    """Write atomically; keys must be fields of ``request_cls`` so the preset maps straight onto a request."""
    target = preset_path(tab, name)
    _check_fields(values, request_cls, f"preset {name!r}")
    plain = {key: _plain(value) for key, value in values.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, target)
    return target


def load_preset(tab: str, name: str, request_cls: RequestTypes = None) -> dict[str, Any]:
    path = preset_path(tab, name)
    if not path.is_file():
        raise BadInputError(f"no preset named {name!r} for this tab (looked in {path.parent})")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadInputError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise BadInputError(f"{path} must hold a mapping of parameter: value")
    _check_fields(values, request_cls, str(path))
    return values


def _plain(value: Any) -> Any:
    """Gradio hands numpy scalars and tuples at times; YAML presets hold plain Python values only."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
