"""Issue 16, bad input item 4: an output folder that passes the permission check but cannot be written is refused
before any work (a probe file is created and removed there), and any OSError while delivering a finished result is
one line that keeps the result in the job folder and says where it is."""
import json
import os
from pathlib import Path

import pytest

from core.cli import guarded, main
from core.errors import BadInputError
from core.jobs import DeliveryFailed, run_job
from core.request import check_out_dir, check_output
from tests.samples import make_tone, talking_clip

ROOT = os.geteuid() == 0


def test_proc_passes_the_permission_bits_as_root_but_is_refused_before_work():
    """As root ``os.access('/proc', W_OK)`` is true, yet nothing can be created there."""
    expected = "cannot write in the folder /proc (" if ROOT else "the folder /proc is not writable"
    with pytest.raises(BadInputError, match=r"^output /proc/dub.mp4: " + expected.replace("(", r"\(")):
        check_output("/proc/dub.mp4", (".mp4",))
    with pytest.raises(BadInputError, match=r"^output folder /proc/stems: " + expected.replace("(", r"\(")):
        check_out_dir("/proc/stems")


def test_the_probe_leaves_nothing_behind(tmp_path):
    check_output(tmp_path / "new" / "deeper" / "out.mp4", (".mp4",))
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_unwritable_output_before_the_job_starts(tmp_path, capsys):
    clip, voice = talking_clip(tmp_path / "clip.mp4", seconds=0.4), make_tone(tmp_path / "v.wav", 0.4)
    assert main(["lipdub", "--video", str(clip), "--audio", str(voice), "--out", "/proc/dub.mp4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: output /proc/dub.mp4: "), err
    outputs = Path(os.environ["MOUTHPIECE_OUTPUTS"])
    assert not outputs.exists() or not list(outputs.iterdir())  # no job folder: refused before any work


class _Request:
    def __init__(self, output: Path):
        self.output = str(output)


def _finish_then_break_the_folder(request, ctx):
    """A finished job whose output folder was replaced by a file while it ran (a vanished mount, a moved folder)."""
    result = ctx.job_dir / "result.mp4"
    result.write_bytes(b"finished video")
    folder = Path(request.output).parent
    folder.rmdir()
    folder.write_text("now a file")
    return ctx.result(result)


def test_an_oserror_at_delivery_keeps_the_result_and_says_where(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    request = _Request(tmp_path / "out" / "final.mp4")
    with pytest.raises(DeliveryFailed) as failed:
        run_job("dummy", _finish_then_break_the_folder, request, outputs_root=tmp_path / "jobs")
    (job,) = (tmp_path / "jobs").iterdir()
    kept = job / "result.mp4"
    assert str(failed.value) == (f"could not write {tmp_path / 'out' / 'final.mp4'} (File exists); "
                                 f"the result is kept in {kept}")
    assert kept.read_bytes() == b"finished video"
    status = json.loads((job / "status.json").read_text())
    assert status["status"] == "failed" and status["error"] == str(failed.value)
    assert not list(tmp_path.rglob("*.part"))
    # the CLI's door: one line, exit 1, no traceback
    (tmp_path / "out").unlink()
    (tmp_path / "out").mkdir()
    code = guarded(run_job, "dummy", _finish_then_break_the_folder, request, None, None, tmp_path / "jobs")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: could not write ") and "is kept in" in err[0]


def test_cli_refuses_an_unwritable_preview_before_the_job_starts(tmp_path, capsys):
    clip, voice = talking_clip(tmp_path / "clip.mp4", seconds=0.4), make_tone(tmp_path / "v.wav", 0.4)
    assert main(["lipdub", "--video", str(clip), "--audio", str(voice), "--preview", "/proc/first.png"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: output /proc/first.png: "), err
    outputs = Path(os.environ["MOUTHPIECE_OUTPUTS"])
    assert not outputs.exists() or not list(outputs.iterdir())
