"""Start `python app.py` as a creator would, on a free loopback port, for the UI tests."""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from collections.abc import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(base: Path, checkpoints: Path, timeout: float = 180) -> Iterator[str]:
    """Serve the studio with outputs, caches and presets under ``base``; yields its URL once `/` answers."""
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", MOUTHPIECE_OUTPUTS=str(base / "out"),
               MOUTHPIECE_CACHE=str(base / "cache"), MOUTHPIECE_PRESETS=str(base / "presets"))
    log_path = base / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--checkpoints", str(checkpoints)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"app.py did not serve {url} in {timeout:.0f} s:\n{log_path.read_text()}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def register_engine(monkeypatch, engine, **modules) -> None:
    """Add ``engine`` to the one registry for this test, with its parts (``weights=``, ``cli=``, ``request=``,
    ``pipeline=``) given as module objects instead of files."""
    import types

    from core import engine as registry

    monkeypatch.setitem(sys.modules, engine.package, types.ModuleType(engine.package))
    for part, module in modules.items():
        monkeypatch.setitem(sys.modules, f"{engine.package}.{part}", module)
    monkeypatch.setattr(registry, "ENGINES", [*registry.ENGINES, engine])
