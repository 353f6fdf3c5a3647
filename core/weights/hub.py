"""Sizes and SHA-256 sums of the official files from the Hugging Face hub, cached beside the checkpoints.

``huggingface_hub``'s path metadata (``HfApi().get_paths_info``, one request per repository) gives each file's size
and, for an LFS file, the sha256 of its content. ``refresh(files, root)`` asks for the hub-hosted files of the
manifests when the hub can be reached (and ``HF_HUB_OFFLINE`` is not set) and keeps the answers in
``<checkpoints>/.hub_metadata.json``, so a later offline ``--list`` still shows them and a download is verified
against them. ``known(item, root)`` is the size and sha256 to trust: the hub's answer where one was recorded (it
describes the file that is downloaded now), else the manifest's own figures. Files fetched from plain URLs (GitHub
releases) have only the manifest's size.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CACHE_NAME = ".hub_metadata.json"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def key(item) -> str:
    """The cache key of a manifest's WeightFile: repo_id/filename."""
    return f"{item.repo_id}/{item.filename}"


def parse_paths_info(repo_id: str, infos: Iterable[Any]) -> dict[str, dict]:
    """``get_paths_info``'s RepoFile objects -> {repo_id/path: {size, sha256 (None for a non-LFS file)}}; folders
    are skipped."""
    out = {}
    for info in infos:
        if getattr(info, "size", None) is None:  # a RepoFolder
            continue
        lfs = getattr(info, "lfs", None)
        out[f"{repo_id}/{info.path}"] = {"size": int(info.size), "sha256": lfs.sha256 if lfs else None}
    return out


def ask_hub(files: Iterable, endpoint: str | None = None) -> dict[str, dict]:
    """The hub's answer for every hub-hosted file in ``files`` (one request per repository)."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint)
    by_repo: dict[str, set[str]] = {}
    for item in files:
        if item.repo_id:
            by_repo.setdefault(item.repo_id, set()).add(item.filename)
    answers: dict[str, dict] = {}
    for repo_id, paths in by_repo.items():
        answers.update(parse_paths_info(repo_id, api.get_paths_info(repo_id, sorted(paths))))
    return answers


def load_cache(root: Path) -> dict[str, dict]:
    try:
        data = json.loads((Path(root) / CACHE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def refresh(files: list, root: Path, endpoint: str | None = None) -> tuple[dict[str, dict], str | None]:
    """Ask the hub about ``files`` and cache the answers beside the checkpoints. Returns (everything known: the cache
    with the new answers, None) when the hub answered, else (the cache alone, one line saying why not)."""
    cache = load_cache(root)
    if not any(item.repo_id for item in files):
        return cache, None
    if offline():
        return cache, "HF_HUB_OFFLINE is set"
    try:
        answers = ask_hub(files, endpoint)
    except Exception as exc:  # noqa: BLE001 - network, DNS, auth, 404: the listing goes on with what is known
        return cache, type(exc).__name__
    cache |= answers
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        tmp = Path(root) / (CACHE_NAME + ".tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, Path(root) / CACHE_NAME)
    except OSError:
        pass  # a read-only checkpoints folder: the answers still serve this run
    return cache, None


def known(item, cache: dict[str, dict]) -> tuple[int | None, str | None]:
    """(size, sha256) to trust for ``item``: the hub's recorded answer, else the manifest's."""
    answer = cache.get(key(item)) if item.repo_id else None
    if answer:
        return answer.get("size"), answer.get("sha256")
    return item.size, item.sha256
