"""Shared test setup: everything offline, outputs and caches in temporary folders, a few CPU threads."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Each test writes outputs and caches under its own temporary folder, never into the repo."""
    base = tmp_path_factory.mktemp("mouthpiece")
    monkeypatch.setenv("MOUTHPIECE_OUTPUTS", str(base / "outputs"))
    monkeypatch.setenv("MOUTHPIECE_CACHE", str(base / "cache"))
    monkeypatch.delenv("MOUTHPIECE_CHECKPOINTS", raising=False)  # a test may point it elsewhere; undone after it
    yield
    if "ui.components" in sys.modules:  # the studio's checkpoints folder, as build_app(checkpoints) sets it
        sys.modules["ui.components"].SETTINGS.checkpoints = None


@pytest.fixture(scope="session")
def test_checkpoints(tmp_path_factory) -> Path:
    """A complete checkpoints folder of tiny random weights in the official layouts, for every landed engine."""
    from core import weights

    return weights.make_test_checkpoints(tmp_path_factory.mktemp("checkpoints"))
