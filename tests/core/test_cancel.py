"""Cancellation that stops the work: an API client's cancel, and SIGTERM/SIGINT of the CLI, each end the job within a
batch, leave no output, and write status.json "cancelled"; the next job then runs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.appserver import running_app
from tests.samples import make_tone, portrait_path

ROOT = Path(__file__).resolve().parents[2]
BOX = "185,70,275,185"  # the astronaut's face


def _status(job_dir: Path) -> str | None:
    path = job_dir / "status.json"
    return json.loads(path.read_text())["status"] if path.is_file() else None


def _portrait_args(audio) -> dict:
    from gradio_client import handle_file

    return {"image": handle_file(str(portrait_path())), "audio": handle_file(str(audio)), "rest": "off", "box": BOX,
            "steps": 2, "render_batch": 4, "device": "cpu", "dtype": "fp32"}


def test_api_cancel_stops_the_job_and_the_next_one_runs(tmp_path, test_checkpoints):
    from gradio_client import Client

    long_audio = make_tone(tmp_path / "minute.wav", seconds=60.0, hz=200.0)
    short_audio = make_tone(tmp_path / "short.wav", seconds=0.4, hz=200.0)
    base = tmp_path / "server"
    base.mkdir()
    with running_app(base, test_checkpoints) as url:
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
        job = client.submit(**_portrait_args(long_audio), api_name="/portrait")
        deadline = time.monotonic() + 120
        while not job.outputs() and time.monotonic() < deadline:  # the first progress line streamed back
            assert not job.done(), job.exception()
            time.sleep(0.05)
        assert job.outputs(), "no progress message arrived"
        job.cancel()
        cancelled_at = time.monotonic()
        job_dir = None
        while time.monotonic() - cancelled_at < 10:
            dirs = sorted((base / "out").glob("*-portrait-*"))
            job_dir = dirs[0] if dirs else None
            if job_dir is not None and _status(job_dir) == "cancelled":
                break
            time.sleep(0.1)
        assert job_dir is not None and _status(job_dir) == "cancelled", "the job did not stop within 10 s"
        assert not list(job_dir.glob("*.mp4")) and not list(job_dir.glob("*.part*"))

        video, timings = client.predict(**_portrait_args(short_audio), api_name="/portrait")
        assert Path(video).is_file() and "real-time factor" in timings
        second = [d for d in (base / "out").glob("*-portrait-*") if d != job_dir]
        assert [_status(d) for d in second] == ["done"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_signal_cancels_cleanly(tmp_path, test_checkpoints, signum):
    audio = make_tone(tmp_path / "minute.wav", seconds=60.0, hz=200.0)
    out = tmp_path / "result.mp4"
    env = dict(os.environ, MOUTHPIECE_OUTPUTS=str(tmp_path / "out"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "core", "portrait", "--image", str(portrait_path()), "--audio",
                             str(audio), "--rest", "off", "--box", BOX, "--steps", "2", "--batch", "4", "--device",
                                 "cpu",
                             "--checkpoints", str(test_checkpoints), "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    job_dir = None
    while time.monotonic() < deadline:  # wait until the job is under way (its log shows progress past the start)
        dirs = list((tmp_path / "out").glob("*-portrait-*"))
        if dirs and "motion" in (dirs[0] / "log.txt").read_text(errors="replace"):
            job_dir = dirs[0]
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert job_dir is not None
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "cancelled"
    assert _status(job_dir) == "cancelled"
    assert not out.exists() and not list(tmp_path.glob(".*part*")) and not list(job_dir.glob("*.mp4"))


def test_server_sigterm_cancels_running_jobs_and_exits(tmp_path, test_checkpoints):
    """`python app.py` asked to stop (SIGTERM, as a service manager or a Space would) cancels its running job —
    status "cancelled", no output — and exits."""
    from gradio_client import Client

    from tests.appserver import free_port

    audio = make_tone(tmp_path / "minute.wav", seconds=60.0, hz=200.0)
    port = free_port()
    env = dict(os.environ, MOUTHPIECE_OUTPUTS=str(tmp_path / "out"), MOUTHPIECE_CACHE=str(tmp_path / "cache"),
               HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen([sys.executable, "app.py", "--port", str(port),
                                   "--checkpoints", str(test_checkpoints)],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not serving yet
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.5)
        client.submit(**_portrait_args(audio), api_name="/portrait")
        job_dir = None
        while time.monotonic() < deadline:
            dirs = list((tmp_path / "out").glob("*-portrait-*"))
            if dirs and "motion" in (dirs[0] / "log.txt").read_text(errors="replace"):
                job_dir = dirs[0]
                break
            time.sleep(0.05)
        assert job_dir is not None
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) is not None
    finally:
        if server.poll() is None:
            server.kill()
    assert _status(job_dir) == "cancelled"
    assert not list(job_dir.glob("*.mp4"))
