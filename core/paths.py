"""Where weights, outputs and caches live. Each can be moved with an environment variable."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

def checkpoints_dir() -> Path:
    """The default weights folder; a request's ``checkpoints`` field (``--checkpoints``) overrides it per job."""
    env = os.environ.get("MOUTHPIECE_CHECKPOINTS")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "checkpoints"


def outputs_dir() -> Path:
    env = os.environ.get("MOUTHPIECE_OUTPUTS")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "outputs"


def cache_dir() -> Path:
    env = os.environ.get("MOUTHPIECE_CACHE")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache" / "mouthpiece"
