"""Where weights, outputs and caches live. Each can be moved with an environment variable."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_checkpoints_override: Path | None = None


def set_checkpoints_dir(path: str | os.PathLike | None) -> None:
    """Point every engine at another checkpoints folder (``--checkpoints DIR``); None restores the default."""
    global _checkpoints_override
    _checkpoints_override = Path(path).expanduser().resolve() if path else None


def checkpoints_dir() -> Path:
    if _checkpoints_override is not None:
        return _checkpoints_override
    env = os.environ.get("MOUTHPIECE_CHECKPOINTS")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "checkpoints"


def outputs_dir() -> Path:
    env = os.environ.get("MOUTHPIECE_OUTPUTS")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "outputs"


def cache_dir() -> Path:
    env = os.environ.get("MOUTHPIECE_CACHE")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache" / "mouthpiece"
