"""The Batch tab: uploaded videos paired with one audio run as a batch whose table streams in, each result linked
and re-opened in the Runs panel; Stop cancels the running row and leaves the batch resumable; bad input is one line;
the running studio serves the same batch on the Gradio API endpoint ``batch``, streaming its progress."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from core import paths, runs
from core.errors import BadInputError
from core.media import probe
from ui.components import SETTINGS


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    from tests.samples import make_tone, talking_clip

    folder = tmp_path_factory.mktemp("batch_ui")
    talking_clip(folder / "intro.mp4", seconds=0.2, size=(64, 64))
    shutil.copyfile(folder / "intro.mp4", folder / "outro.mp4")
    make_tone(folder / "voice.wav", seconds=0.12, hz=220.0)
    make_tone(folder / "long.wav", seconds=0.4, hz=200.0)
    return {p.stem: p for p in folder.iterdir()}


SETTINGS_TEXT = "box: [8, 8, 56, 56]\nbatch_size: 1\naudio.rest: off"   # tones, not speech: no rest on silence


def _drain(generator) -> list[tuple[str, list[list]]]:
    return list(generator)


def test_uploaded_files_run_as_a_batch_and_reopen_in_runs(clips, test_checkpoints):
    from ui.tabs.batch import start_batch
    from ui.tabs.settings import open_run

    SETTINGS.checkpoints = str(test_checkpoints)
    updates = _drain(start_batch(None, "", "lipdub", [clips["intro"], clips["outro"]], [clips["voice"]],
                                 SETTINGS_TEXT, False))
    assert any("running" in line for line, _ in updates[:-1])   # progress streamed while rows ran
    line, table = updates[-1]
    assert line.startswith("finished · 2/2 done · 0 failed · 0 running")
    assert [(r[1], r[3]) for r in table] == [("intro", "done"), ("outro", "done")]
    out_dir = Path(line.rsplit(" · ", 1)[1])
    assert out_dir.parent == paths.outputs_dir() and out_dir.name.endswith("-batch")
    assert table[0][5] == f"[intro.mp4](/gradio_api/file={out_dir / 'intro.mp4'})"
    assert abs(probe(out_dir / "outro.mp4").duration - 0.12) <= 0.04

    listed = {r.job_id: r for r in runs.list_runs()}
    intro = next(job for job in listed if job.startswith(f"{out_dir.name}/intro-"))
    assert listed[intro].status == "done" and listed[intro].engine == "lipdub" and listed[intro].started
    video, _, record, log = open_run(intro)
    assert Path(video).is_file() and record["request"]["batch_size"] == 1 and "done" in log


def test_stop_cancels_the_running_row_and_the_batch_stays_resumable(clips, test_checkpoints):
    from ui.tabs.batch import start_batch

    SETTINGS.checkpoints = str(test_checkpoints)
    handler = start_batch(None, "", "lipdub", [clips["intro"]], [clips["long"]], SETTINGS_TEXT, False)
    for line, table in handler:
        if table and table[0][3].startswith("running · generating"):
            break
    handler.close()   # what Gradio does on Stop, an API cancel or a closed tab
    batch_json = next(paths.outputs_dir().glob("*-batch/batch.json"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and json.loads(batch_json.read_text())["rows"][0]["status"] == "running":
        time.sleep(0.2)
    row = json.loads(batch_json.read_text())["rows"][0]
    assert row["status"] == "cancelled" and row["output"] is None
    assert not (batch_json.parent / "intro.mp4").exists()
    job = Path(row["job"])
    assert sorted(p.name for p in job.iterdir()) == ["log.txt", "request.json", "status.json"]


def test_bad_input_is_one_line(clips, test_checkpoints, tmp_path):
    from ui.tabs.batch import start_batch

    SETTINGS.checkpoints = str(test_checkpoints)
    cases = [
        ((None, "", "lipdub", [], [], "", False),
         "upload a manifest, or the videos / photos and their audio (one audio drives all)"),
        ((None, "", "lipdub", [clips["intro"], clips["outro"]], [clips["voice"], clips["long"]], "", False),
         f"intro.mp4: no audio named intro.* in {clips['voice'].parent} (and 3 more)"),
        ((None, "", "lipdub", [clips["intro"]], [clips["voice"]], "batch_size 4", False),
         "settings for every row: write 'field: value' per line, not 'batch_size 4'"),
        ((None, "", "lipdub", [clips["intro"]], [clips["voice"]], "extra_margin: 99", False),
         "row 1: Extra margin below the chin (v1.5) must be 0..40, got 99: fix them, or tick Skip bad rows"),
    ]
    for args, message in cases:
        with pytest.raises(BadInputError) as failure:
            _drain(start_batch(*args))
        assert str(failure.value).startswith(message) and "\n" not in str(failure.value)
    manifest = tmp_path / "rows.csv"
    manifest.write_text("engine,video,audio,box\nlipdub,clips/intro.mp4,clips/voice.wav,\"8,8,56,56\"\n")
    with pytest.raises(BadInputError, match=f"row 1: audio file not found: {tmp_path / 'clips' / 'voice.wav'}"):
        _drain(start_batch(manifest, "", "lipdub", [], [], "", False))


def test_the_studio_serves_the_batch_api_with_streamed_progress(clips, test_checkpoints, tmp_path):
    """A manifest uploaded through the running studio's API; relative paths start at the given media folder."""
    from gradio_client import Client, handle_file

    from tests.appserver import running_app

    manifest = tmp_path / "rows.jsonl"
    manifest.write_text(json.dumps({"engine": "lipdub", "name": "api", "video": "intro.mp4",
                                    "audio": {"audio": "voice.wav", "rest": "off"}, "box": [8, 8, 56, 56],
                                    "batch_size": 4}) + "\n")
    (tmp_path / "studio").mkdir()
    with running_app(tmp_path / "studio", test_checkpoints) as url:
        client = Client(url, verbose=False)
        job = client.submit(handle_file(str(manifest)), str(clips["intro"].parent), "lipdub", [], [], "", False,
                            api_name="/batch")
        line, table = job.result(timeout=300)
        assert len(job.outputs()) >= 2   # streamed: at least one update before the final table
    assert line.startswith("finished · 1/1 done") and table["data"][0][1:4] == ["api", "lipdub", "done"]
    result = Path(line.rsplit(" · ", 1)[1]) / "api.mp4"
    assert abs(probe(result).duration - 0.12) <= 0.04
