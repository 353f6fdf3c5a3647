"""Weights manager: per-engine manifests of the official files, presence checks, downloads and safe loading.

Each engine in the registry (``core.engine.ENGINES``) owns a manifest module, ``<package>.weights``, defining ``FILES``
and ``make_test_checkpoints(root)``; this package only knows how to check, fetch and load what they list.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Callable

from core import paths
from core.errors import BadInputError, JobCancelled, MissingWeightsError, MouthpieceError
from core.weights import hub

ProgressFn = Callable[[float, str], None]

TEST_MARKER = "TEST_WEIGHTS.txt"


@dataclass(frozen=True)
class WeightFile:
    """One official file: where it lives under checkpoints/ and where it comes from."""

    local: str
    repo_id: str | None = None
    filename: str | None = None
    url: str | None = None
    size: int | None = None
    sha256: str | None = None
    note: str = ""

    @property
    def source(self) -> str:
        return f"hf://{self.repo_id}/{self.filename}" if self.repo_id else (self.url or "?")


def engines() -> list[str]:
    """Every registered engine and tool that has weights, in registry order."""
    from core.engine import ENGINES

    return [e.name for e in ENGINES]


def manifest(engine: str) -> ModuleType:
    from core.engine import get

    return get(engine).weights


def title(engine: str) -> str:
    from core.engine import get

    return get(engine).title


def files(engine: str) -> list[WeightFile]:
    return list(manifest(engine).FILES)


def root_dir(root: str | os.PathLike | None = None) -> Path:
    return Path(root).expanduser().resolve() if root else paths.checkpoints_dir()


def missing(engine: str, root: str | os.PathLike | None = None) -> list[WeightFile]:
    base = root_dir(root)
    return [f for f in files(engine) if not (base / f.local).is_file()]


def require(engine: str, root: str | os.PathLike | None = None) -> Path:
    """Fail before any work, naming every missing file and the command that fetches them."""
    gone = missing(engine, root)
    if gone:
        raise MissingWeightsError(engine, [f.local for f in gone])
    return root_dir(root)


def is_test_checkpoints(root: str | os.PathLike | None = None) -> bool:
    return (root_dir(root) / TEST_MARKER).is_file()


def _fetch_url(url: str, target: Path, on_bytes: Callable[[int], None]) -> None:
    """Download with resume: bytes land in ``target.part`` and continue from there after an interruption."""
    part = target.with_name(target.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        if done and response.status != 206:  # server ignored the range: start over
            done = 0
            part.unlink(missing_ok=True)
        on_bytes(done)
        with open(part, "ab") as fh:
            while chunk := response.read(1 << 20):
                fh.write(chunk)
                on_bytes(len(chunk))
    os.replace(part, target)


def _fetch_hf(item: WeightFile, target: Path, base: Path) -> None:
    from huggingface_hub import hf_hub_download

    staging = base / ".downloads" / item.repo_id.replace("/", "--")
    got = Path(hf_hub_download(repo_id=item.repo_id, filename=item.filename, local_dir=staging))
    os.replace(got, target)


def download(engine: str, root: str | os.PathLike | None = None, progress: ProgressFn | None = None) -> list[Path]:
    """Fetch the engine's missing files (resumable, skipping what is present, sizes checked)."""
    base = root_dir(root)
    todo = missing(engine, base)
    report = progress or (lambda fraction, message: None)
    if not todo:
        report(1.0, f"{engine}: all files present")
        return []
    if hub.offline():
        raise MissingWeightsError(engine, [f.local for f in todo])
    answers, _ = hub.refresh(todo, base)  # sizes and sha256 sums before anything is downloaded
    expected = {item.local: hub.known(item, answers) for item in todo}
    total = sum(size or 0 for size, _ in expected.values()) or len(todo)
    fetched: list[Path] = []
    done_bytes = 0
    for index, item in enumerate(todo):
        target = base / item.local
        target.parent.mkdir(parents=True, exist_ok=True)
        report(done_bytes / total, f"downloading {item.local} ({index + 1}/{len(todo)})")

        def on_bytes(n: int, item: WeightFile = item) -> None:
            nonlocal done_bytes
            done_bytes += n
            report(min(done_bytes / total, 1.0), f"downloading {item.local}")

        size, sha256 = expected[item.local]
        try:
            if item.repo_id:
                _fetch_hf(item, target, base)
                done_bytes += size or 1
            else:
                _fetch_url(item.url, target, on_bytes)
        except Exception as exc:  # network, auth, 404: one line for the creator, partial bytes kept for resume
            raise MouthpieceError(f"could not download {item.local} from {item.source}: {exc}") from exc
        problem = mismatch(target, size, sha256)
        if problem:
            target.unlink()
            raise MouthpieceError(f"{item.local}: downloaded {problem}; run the download again")
        fetched.append(target)
    shutil.rmtree(base / ".downloads", ignore_errors=True)
    after = getattr(manifest(engine), "after_download", None)  # e.g. store byte-identical copies once
    if after is not None:
        after(base)
    report(1.0, f"{engine}: downloaded {len(fetched)} file(s)")
    return fetched


def load_state_dict(path: str | os.PathLike) -> dict:
    """Tensors only: safetensors, or a torch pickle restricted to ``weights_only=True``. A cancel (SIGTERM or Ctrl-C
    landing inside the loader) stays a cancel; only a real load error is reported about the file (``corrupt_file``)."""
    import torch

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, JobCancelled):
        raise
    except Exception as exc:
        if _caused_by_cancel(exc):
            raise JobCancelled("job cancelled") from exc
        if isinstance(exc, pickle.UnpicklingError):
            raise BadInputError(f"{path} holds more than tensors; refusing to unpickle it (safe loading only)") from exc
        raise corrupt_file(path, exc) from exc


def _caused_by_cancel(exc: BaseException) -> bool:
    """True when a cancel is anywhere in ``exc``'s chain (a loader that wrapped the signal's exception in its own)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (JobCancelled, KeyboardInterrupt)):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def manifest_entry(path: str | os.PathLike) -> tuple[WeightFile, Path] | None:
    """The manifest's WeightFile for a file under a checkpoints folder, and that folder; None if no manifest lists
    it."""
    p = Path(path).resolve()
    for engine in engines():
        for item in files(engine):
            parts = Path(item.local).parts
            if p.parts[-len(parts):] == parts:
                return item, Path(*p.parts[:-len(parts)])
    return None


def mismatch(path: Path, size: int | None, sha256: str | None) -> str | None:
    """How ``path`` differs from the official file's size and sha256 (None: it matches what is known)."""
    actual = path.stat().st_size
    if size and actual != size:
        return f"{actual} bytes, the official file has {size}"
    if sha256 and content_hash(path) != sha256:
        return "a file whose SHA-256 differs from the official file's"
    return None


def corrupt_file(path: str | os.PathLike, exc: BaseException) -> MouthpieceError:
    """The one message for a weights file (.pth, .safetensors, .onnx...) that cannot be loaded: which file, delete it,
    re-download. The file is first checked against the official size and sha256 (the hub's cached answer, else the
    manifest): one that matches both is not blamed (exit 1, keep it); a mismatch is named in the message. Tiny test
    checkpoints are not the official files, so they are not compared."""
    p = Path(path)
    entry = manifest_entry(p)
    size, sha256 = (None, None)
    if entry is not None and not is_test_checkpoints(entry[1]):
        size, sha256 = hub.known(entry[0], hub.load_cache(entry[1]))
    try:
        problem = mismatch(p, size, sha256) if p.is_file() else None
    except OSError as error:
        problem = f"unreadable: {error.strerror}"
    if sha256 and not problem:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        return MouthpieceError(f"{path} could not be loaded ({reason}), yet it matches the official file's size and "
                               "SHA-256: keep it; the installed libraries may not match requirements.txt")
    detail = type(exc).__name__ + (f"; {problem}" if problem else "")
    return BadInputError(f"{path} is corrupt or not a weights file ({detail}); delete it and run "
                         "python download_weights.py")


def is_onnxruntime_error(exc: BaseException) -> bool:
    """True for onnxruntime's own errors (InvalidProtobuf, InvalidArgument, Fail...) raised while loading a model."""
    return type(exc).__module__.startswith("onnxruntime")


def load_strict(module, state: dict, path: str | os.PathLike) -> None:
    """``module.load_state_dict(state, strict=True)``; a missing, unexpected or mis-shaped key is a wrong or corrupt
    file, reported in one line naming it (a few keys as examples) and the way out."""
    result = None
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        detail = " ".join(str(exc).split())[:240]
        raise BadInputError(f"{path} does not match the expected model ({detail}); delete it and re-download") from exc
    if result.missing_keys or result.unexpected_keys:
        raise BadInputError(
            f"{path} does not match the expected model: {len(result.missing_keys)} missing key(s) "
            f"(e.g. {result.missing_keys[:2]}), {len(result.unexpected_keys)} unexpected (e.g. "
            f"{result.unexpected_keys[:2]}); delete it and re-download")


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, mtime) for the life of the process."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256(str(p), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def make_test_checkpoints(root: str | os.PathLike, only: list[str] | None = None) -> Path:
    """Write tiny random weights for every engine in the official names and layouts, and mark the folder as test
    weights."""
    base = Path(root).expanduser().resolve()
    base.mkdir(parents=True, exist_ok=True)
    for engine in only or engines():
        manifest(engine).make_test_checkpoints(base)
        gone = missing(engine, base)
        if gone:
            raise MouthpieceError(f"test checkpoints for {engine} lack {', '.join(f.local for f in gone)}")
    (base / TEST_MARKER).write_text(
        "Tiny random weights written by `python -m core weights --make-test-checkpoints`.\n"
        "They load through the real loaders but produce noise; never use them for real work.\n", encoding="utf-8")
    return base
