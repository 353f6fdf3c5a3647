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


# Modules whose tests each run whole jobs, subprocesses or a studio server (seconds to a minute each on 2 cores).
SLOW_MODULES = {"test_outputs_unchanged", "test_studio_limits", "test_ui_endtoend", "test_cancel",
                "test_avatar_pipeline", "test_avatar_memory", "test_lipdub_engine", "test_portrait_pipeline",
                "test_expression_engine", "test_audio_engine_mux", "test_audio_separation", "test_half_precision",
                "test_lipdub_rest", "test_avatar_rest", "test_portrait_rest", "test_expression_rest"}


def pytest_collection_modifyitems(config, items):
    """Markers by place: tests/browser/ is `browser` (and `slow`), test_fidelity_* is `fidelity`, the modules above
    are `slow`. The fast subset for development: `python -m pytest -m "not slow"`."""
    for item in items:
        path = Path(str(item.fspath))
        if "browser" in path.parts:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        if path.stem.startswith("test_fidelity"):
            item.add_marker(pytest.mark.fidelity)
        if path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


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
