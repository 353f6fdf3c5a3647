"""The Runs panel: past jobs read back from outputs/ (status, engine, parameters, timings, result), and re-opened."""
from dataclasses import dataclass

import pytest

from core import jobs, runs
from core.audio.options import AudioOptions
from core.errors import BadInputError, JobCancelled


@dataclass
class Req:
    image: str
    audio: AudioOptions
    steps: int = 4
    device: str = "cpu"


def _finished(req, ctx):
    out = ctx.job_dir / "result.mp4"
    out.write_bytes(b"video")
    with ctx.stage("render"):
        pass
    return ctx.result(out)


def _cancelled(req, ctx):
    raise JobCancelled("job cancelled")


def test_runs_lists_jobs_newest_first_and_reopens_them(tmp_path):
    from ui.tabs.settings import RUN_HEADERS, open_run, runs_rows

    req = Req(image=str(tmp_path / "me.png"), audio=AudioOptions(str(tmp_path / "take 1.wav"), start=0.5, end=2.0))
    done = jobs.run_job("portrait", _finished, req)
    with pytest.raises(JobCancelled):
        jobs.run_job("portrait", _cancelled, req)

    listed = runs.list_runs()
    assert sorted(r.status for r in listed) == ["cancelled", "done"]
    run = runs.find_run(done.job_dir.name)
    assert (run.engine, run.status, run.kind, run.output) == ("portrait", "done", "video", done.output)
    assert run.parameters() == "image=me.png · audio=take 1.wav 0.5–2 s · steps=4"  # no device: not a choice
    assert set(run.timings) >= {"render", "total"}

    rows = {row[0]: dict(zip(RUN_HEADERS, row)) for row in runs_rows()}
    assert rows[done.job_dir.name]["status"] == "done" and rows[done.job_dir.name]["result"] == "video"
    video, picture, record, log = open_run(done.job_dir.name)
    assert video == str(done.output) and picture is None
    assert record["status"] == "done" and record["request"]["steps"] == 4
    assert "starting" in log

    for bad in ("../etc", "", "nope"):
        with pytest.raises(BadInputError, match="no run named"):
            runs.find_run(bad)


def test_a_past_engine_job_runs_again_from_its_request(test_checkpoints, tmp_path):
    """"Run again": the recorded request.json becomes the engine's request once more (same choices, result in a new
    job folder, not copied over the old output path); a job that is not an engine job is refused in one line."""
    from core.engines.lipdub import LipdubRequest, run
    from core.media import probe
    from tests.samples import make_tone, talking_clip

    clip = talking_clip(tmp_path / "clip.mp4", seconds=0.2, size=(64, 64))
    voice = make_tone(tmp_path / "voice.wav", seconds=0.4, hz=220.0)
    first = jobs.run_job("lipdub", run, LipdubRequest(
        video=str(clip), audio=AudioOptions(str(voice), end=0.3, rest="off"), box=[8, 8, 56, 56],
            checkpoints=str(test_checkpoints),
        batch_size=4, bbox_shift=3, output=str(tmp_path / "delivered.mp4")))
    engine, again = runs.rerun_request(runs.find_run(first.job_dir.name))
    assert engine.name == "lipdub" and again.output is None
    assert (again.audio, again.box, again.bbox_shift, again.video) == (AudioOptions(str(voice), end=0.3, rest="off"),
                                                                        [8.0, 8.0, 56.0, 56.0], 3, str(clip))
    second = jobs.run_job(engine.name, engine.run, again)
    assert second.job_dir != first.job_dir and abs(probe(second.output).duration - 0.3) <= 0.04
    separate = jobs.new_job_dir("separate")
    (separate / "request.json").write_text('{"engine": "separate", "request": {}}')
    with pytest.raises(BadInputError, match="is a separate job; only engine jobs"):
        runs.rerun_request(runs.find_run(separate.name))
