"""Issue 16, cancel at any instant: a real SIGTERM delivered at each phase of a CLI job (import, probe, model load,
first batch, encode, mux) ends it with exit 130, "cancelled", status "cancelled" and nothing left behind; a cancel
landing inside a weights loader is never reported as a corrupt file.

The signal is sent by the process to itself the first time a function of the phase is entered (a profile hook, in
any thread), so the product's own handler runs exactly where a service manager's SIGTERM would land."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from core import weights
from core.cache import default_cache
from core.cli import main
from core.errors import JobCancelled
from tests.samples import make_tone, portrait_path

ROOT = Path(__file__).resolve().parents[2]
BOX = "185,70,275,185"  # the astronaut's face


@contextlib.contextmanager
def sigterm_on_first_call(module: str, function: str):
    """Send SIGTERM to this process the first time ``module.function`` is entered, in any thread."""
    fired = threading.Event()

    def hook(frame, event, arg):
        code = frame.f_code
        if (event == "call" and not fired.is_set() and code.co_name == function
                and frame.f_globals.get("__name__") == module):
            fired.set()
            os.kill(os.getpid(), signal.SIGTERM)

    sys.setprofile(hook)
    threading.setprofile(hook)
    try:
        yield fired
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


PHASES = {
    "probe": ("core.media.probe", "probe"),
    "model load": ("torch.serialization", "load"),  # inside the loader of the first .pth file
    "first batch": ("core.engines.portrait.pipeline", "render_frames"),
    "encode": ("core.media.writer", "_write_one"),
    "mux": ("core.media.writer", "close"),
}


@pytest.mark.slow
@pytest.mark.parametrize("phase", list(PHASES))
def test_sigterm_at_every_phase_of_a_cli_job(phase, tmp_path, test_checkpoints, capsys):
    audio = make_tone(tmp_path / "voice.wav", seconds=0.6, hz=200.0)
    out = tmp_path / "result" / "talking.mp4"
    outputs = Path(os.environ["MOUTHPIECE_OUTPUTS"])
    previous = signal.getsignal(signal.SIGTERM)
    default_cache().unload_all()  # models an earlier test left in this process's cache would skip the load phase
    with sigterm_on_first_call(*PHASES[phase]) as fired:
        code = main(["portrait", "--image", str(portrait_path()), "--audio", str(audio), "--rest", "off", "--box", BOX,
                     "--steps", "1",
                     "--batch", "4", "--device", "cpu", "--checkpoints", str(test_checkpoints), "--out", str(out)])
    assert fired.is_set(), f"the {phase} phase was never reached"
    assert signal.getsignal(signal.SIGTERM) == previous  # the CLI's handler is removed again
    assert code == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "cancelled"
    jobs = list(outputs.glob("*-portrait-*")) if outputs.exists() else []
    for job in jobs:  # the probe of the request comes before the job: then there is none
        assert json.loads((job / "status.json").read_text())["status"] == "cancelled"
        assert sorted(p.name for p in job.iterdir()) == ["log.txt", "request.json", "status.json"]
    assert (phase == "probe") == (not jobs)
    assert not out.parent.exists() or not list(out.parent.iterdir())
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name or p.suffix == ".mp4"]
    assert not [t for t in threading.enumerate() if t.name == "encode" and t.is_alive()]


@pytest.mark.slow
def _wait_for_sigterm_handler(pid: int, timeout: float = 30) -> None:
    """Until the process has a SIGTERM handler (Linux: bit 15 of SigCgt in /proc/PID/status)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.002)
    raise AssertionError("the CLI never installed its SIGTERM handler")


def test_sigterm_during_the_imports_exits_130(tmp_path, test_checkpoints):
    """The handler is installed before torch and the engines are imported: a SIGTERM sent as soon as the process
    catches SIGTERM (while ``python -m core`` still imports) cancels instead of killing or being lost."""
    audio = make_tone(tmp_path / "voice.wav", seconds=0.6, hz=200.0)
    env = dict(os.environ, MOUTHPIECE_OUTPUTS=str(tmp_path / "out"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "core", "portrait", "--image", str(portrait_path()), "--audio",
                             str(audio), "--box", BOX, "--device", "cpu", "--checkpoints", str(test_checkpoints),
                             "--out", str(tmp_path / "r.mp4")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for_sigterm_handler(proc.pid)  # then still importing: torch alone takes longer than this wait
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["cancelled"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.mp4").exists()


@pytest.mark.parametrize("suffix, loader", [(".safetensors", ("safetensors.torch", "load_file")),
                                            (".pth", ("torch.serialization", "load"))])
def test_a_cancel_inside_the_loader_is_a_cancel_not_a_corrupt_file(tmp_path, suffix, loader):
    from safetensors.torch import save_file

    from core.cli import _on_term

    path = tmp_path / f"unet{suffix}"
    state = torch.nn.Linear(64, 64).state_dict()
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        with sigterm_on_first_call(*loader) as fired, pytest.raises(JobCancelled):
            weights.load_state_dict(path)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert fired.is_set()
    assert set(weights.load_state_dict(path)) == {"weight", "bias"}  # the file was fine all along


def test_a_swallowed_or_wrapped_signal_is_still_a_cancel(capsys):
    """A library that catches the signal's exception (an optional import in try/except) or wraps it in its own:
    the cancel is remembered, so the command still ends as cancelled, never as another error."""
    from core.cli import TERMINATED, guarded

    def library_call():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs here and raises JobCancelled ...
        except Exception:  # ... which this library swallows
            pass
        raise ValueError("could not load the model")  # and then fails in its own words

    TERMINATED.clear()
    try:
        assert guarded(library_call) == 130
        assert capsys.readouterr().err.strip().splitlines() == ["cancelled"]
    finally:
        TERMINATED.clear()
