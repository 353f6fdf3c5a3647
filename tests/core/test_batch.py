"""Batch (local runner): manifests in three formats, every row checked before any work, rows run as jobs into their
own folders, a failing row does not stop the others, an interrupted batch resumes without redoing anything, and an
edited manifest reruns exactly the rows that changed. Real engines on the tiny test checkpoints."""
from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.batch import plan, read_manifest, run_batch
from core.batch.manifest import folder_rows
from core.cli import main
from core.errors import BadInputError
from core.media import probe

BOX = "160,120,360,360"  # the astronaut's face, in photo pixels


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Torch on one thread for these tests, as Ray's one-CPU actors run: tiny models gain nothing from two threads,
    and on a shared two-core machine two threads per job oversubscribe it (rows ran ~5x slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A folder with a tiny talking clip, a voice, the astronaut photo, and a file that is not a video."""
    from tests.samples import make_tone, portrait_path, talking_clip

    folder = tmp_path_factory.mktemp("media")
    talking_clip(folder / "clip.mp4", seconds=0.24, size=(64, 64))
    make_tone(folder / "voice.wav", seconds=0.5, hz=220.0)
    shutil.copyfile(portrait_path(), folder / "face.png")
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    return folder


def _dub(name: str, end: float, **extra) -> dict:
    return {"engine": "lipdub", "name": name, "video": "clip.mp4",
            "audio": {"audio": "voice.wav", "end": end, "rest": "off"},   # a tone, not speech: no rest on silence
            "box": [8, 8, 56, 56], "batch_size": 4, **extra}


def _edit(name: str, smile: float, **extra) -> dict:
    return {"engine": "expression", "name": name, "image": "face.png", "box": [160, 120, 360, 360],
            "edits": {"smile": smile}, **extra}


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _record(out_dir: Path) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads((out_dir / "batch.json").read_text())["rows"]}


def test_the_three_formats_describe_the_same_rows(media, test_checkpoints):
    """CSV (flat, dotted audio columns, empty cells = defaults), JSONL and YAML (with defaults) give the same requests,
    hence the same job folders; relative paths resolve against the manifest's folder, not the working directory."""
    (media / "m.csv").write_text(
        "engine,name,video,image,audio,audio.end,audio.rest,box,batch_size,edits\n"
        f"lipdub,dub,clip.mp4,,voice.wav,0.12,off,\"8,8,56,56\",4,\n"
        f"expression,smile,,face.png,,,,\"{BOX}\",,\"{{smile: 0.5}}\"\n", encoding="utf-8")
    _jsonl(media / "m.jsonl", [_dub("dub", 0.12), _edit("smile", 0.5)])
    (media / "m.yaml").write_text(
        f"defaults: {{checkpoints: {test_checkpoints}}}\n"
        "rows:\n"
        "  - {engine: lipdub, name: dub, video: clip.mp4, audio: voice.wav, audio.end: 0.12, audio.rest: 'off',\n"
        "     box: [8, 8, 56, 56], batch_size: 4}\n"
        f"  - {{engine: expression, name: smile, image: face.png, box: [{BOX}], edits: {{smile: 0.5}}}}\n",
        encoding="utf-8")
    folders = {}
    for name in ("m.csv", "m.jsonl", "m.yaml"):
        rows = read_manifest(media / name)
        assert rows[0]["video"] == str(media / "clip.mp4") and rows[0]["audio"]["audio"] == str(media / "voice.wav")
        items = plan(rows, media / "out", {"checkpoints": str(test_checkpoints)})
        assert [i.error for i in items] == ["", ""]
        assert items[0].request.audio.end == 0.12 and items[0].request.box == [8.0, 8.0, 56.0, 56.0]
        assert items[1].request.edits == {"smile": 0.5} and items[1].output == media / "out" / "smile.png"
        folders[name] = [i.job_dir.name for i in items]
    assert folders["m.csv"] == folders["m.jsonl"] == folders["m.yaml"]
    assert folders["m.csv"][0].startswith("dub-") and folders["m.csv"][1].startswith("smile-")


def test_bad_rows_are_refused_one_line_each_before_any_work(media, test_checkpoints, tmp_path, capsys):
    rows = [
        _dub("ok", 0.12),
        {"engine": "karaoke", "video": "clip.mp4"},                                   # 2 unknown engine
        _dub("typo", 0.12, batch_sise=4),                                             # 3 unknown column
        _dub("gone", 0.12, video="missing.mp4"),                                      # 4 missing file
        _dub("broken", 0.12, video="broken.mp4"),                                     # 5 unreadable file
        _dub("margin", 0.12, extra_margin=99),                                        # 6 bad value
        _dub("count", 0.12, batch_size="four"),                                       # 7 wrong type
        _dub("ok", 0.2),                                                              # 8 same name as row 1
        _dub("twin", 0.2, output=str(tmp_path / "out" / "ok.mp4")),                  # 9 same output as row 1
        {"engine": "lipdub", "name": "novideo", "audio": "voice.wav"},                # 10 required field missing
    ]
    manifest = _jsonl(media / "bad.jsonl", rows)
    out = tmp_path / "out"
    code = main(["batch", str(manifest), "--out-dir", str(out), "--checkpoints", str(test_checkpoints)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[:-1] == [
        "error: row 2: unknown engine 'karaoke': choose from lipdub, portrait, avatar, expression, audio",
        "error: row 3: unknown field 'batch_sise' for a lipdub row (known: " + err[1].split("(known: ")[1],
        f"error: row 4: file not found: {media / 'missing.mp4'}",
        err[3],
        "error: row 6: Extra margin below the chin (v1.5) must be 0..40, got 99",
        "error: row 7: Batch size must be a number, got 'four'",
        "error: row 8: name 'ok' is also row 1's: give each row its own name",
        f"error: row 9: output {out / 'ok.mp4'} is also row 1's",
        "error: row 10: a lipdub row needs 'video'",
    ]
    assert err[3].startswith("error: row 5: ") and "broken.mp4" in err[3]
    assert err[-1] == "error: 9 bad row(s) of 10: fix them, or pass --skip-bad to run the rest"
    assert sorted(p.name for p in out.iterdir()) == []  # nothing ran, not even batch.json

    (media / "empty.csv").write_text("engine,video,audio\n", encoding="utf-8")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    ok = _jsonl(media / "ok.jsonl", rows[:1])
    for argv, message in [
        ([str(media / "empty.csv"), "--out-dir", str(out)], f"manifest {media / 'empty.csv'} has no rows"),
        ([str(ok), "--out-dir", str(a_file)], f"output folder {a_file} is a file: give a folder"),
        ([str(ok), "--out-dir", "/proc/mouthpiece-batch"],
         "output folder /proc/mouthpiece-batch: cannot write in the folder /proc"),
        ([str(media / "notes.txt"), "--out-dir", str(out)], f"manifest {media / 'notes.txt'} does not exist"),
        (["lipdub", "--out-dir", str(out)], "batch lipdub needs --videos DIR (or --images DIR) and --audio DIR|FILE"),
        ([str(ok), "--out-dir", str(out), "--set", "batch_sise=4"], "--set batch_sise: no engine has a field of that"),
        ([str(ok), "--out-dir", str(out), "--workers", "2"], "--workers applies to --ray"),
    ]:
        assert main(["batch", *argv]) == 2
        assert capsys.readouterr().err.strip().startswith(f"error: {message}")


def test_folder_pairs_by_stem_and_names_the_unpaired(tmp_path, media):
    videos, voices = tmp_path / "videos", tmp_path / "voices"
    videos.mkdir()
    voices.mkdir()
    for stem in ("intro", "outro", "lonely"):
        shutil.copyfile(media / "clip.mp4", videos / f"{stem}.mp4")
    for stem in ("intro", "outro", "extra"):
        shutil.copyfile(media / "voice.wav", voices / f"{stem}.wav")
    rows, problems = folder_rows("lipdub", videos, voices)
    assert [(r["name"], Path(r["video"]).name, Path(r["audio"]["audio"]).name) for r in rows] == [
        ("intro", "intro.mp4", "intro.wav"), ("outro", "outro.mp4", "outro.wav")]
    assert problems == [f"lonely.mp4: no audio named lonely.* in {voices}",
                        f"extra.wav: no video named extra.* in {videos}"]
    rows, problems = folder_rows("portrait", media, media / "voice.wav")   # one audio for every photo
    assert [r["name"] for r in rows] == ["face"] and problems == []
    with pytest.raises(BadInputError, match="no videos in"):
        folder_rows("lipdub", voices, voices)


def test_a_local_batch_runs_resumes_and_reruns_exactly_what_changed(media, test_checkpoints, tmp_path, capsys):
    """4 rows across 2 engines and one bad row (--skip-bad): the good rows are done, delivered as out/<name>.mp4 /
    .png, and batch.json says so; a rerun redoes nothing; editing one row reruns that row alone."""
    rows = [_dub("dub_a", 0.12), _edit("smile", 0.6), _dub("dub_b", 0.2), _edit("frown", -0.3),
            _dub("bad", 0.12, video="missing.mp4")]
    manifest = _jsonl(media / "four.jsonl", rows)
    out = tmp_path / "out"
    argv = ["batch", str(manifest), "--out-dir", str(out), "--checkpoints", str(test_checkpoints), "--skip-bad",
            "--set", "render_batch=2"]   # an expression field: lip-dub rows, which have none, are left alone
    assert main(argv) == 1  # a bad row was skipped: not everything is done
    printed = capsys.readouterr()
    assert f"warning: row 5: file not found: {media / 'missing.mp4'}" in printed.err
    first = _record(out)
    assert {n: r["status"] for n, r in first.items()} == {"dub_a": "done", "smile": "done", "dub_b": "done",
                                                         "frown": "done", "bad": "bad"}
    assert abs(probe(out / "dub_a.mp4").duration - 0.12) <= 0.04
    assert abs(probe(out / "dub_b.mp4").duration - 0.2) <= 0.04
    smile, frown = (np.asarray(Image.open(out / f"{n}.png")) for n in ("smile", "frown"))
    assert smile.shape == frown.shape == (512, 512, 3) and not np.array_equal(smile, frown)
    for name in ("dub_a", "smile", "dub_b", "frown"):
        assert first[name]["output"] == str(out / (name + (".png" if name in ("smile", "frown") else ".mp4")))
        assert first[name]["seconds"] > 0 and first[name]["attempts"] == 1 and not first[name]["reused"]
    assert "dub_a" in printed.out and str(out / "batch.json") in printed.out  # the table, then the summary path
    stamps = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/status.json")}
    assert len(stamps) == 4
    smile_request = json.loads(next(out.glob("smile-*/request.json")).read_text())["request"]
    assert smile_request["render_batch"] == 2 and smile_request["output"] == str(out / "smile.png")

    assert main(argv) == 1
    again = _record(out)
    assert all(again[n]["reused"] and again[n]["status"] == "done" for n in ("dub_a", "smile", "dub_b", "frown"))
    assert {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/status.json")} == stamps  # nothing redone

    (out / "smile.png").unlink()  # a delivered copy lost: given again from its job folder, not recomputed
    rows[2]["audio"]["end"] = 0.16  # dub_b edited
    _jsonl(manifest, rows[:4])      # and the bad row dropped
    assert main(argv) == 0
    third = _record(out)
    assert [n for n, r in third.items() if not r["reused"]] == ["dub_b"]
    assert abs(probe(out / "dub_b.mp4").duration - 0.16) <= 0.04 and (out / "smile.png").is_file()
    assert len(list(out.glob("dub_b-*"))) == 2  # the old request's folder stays; the new one is beside it


def test_a_row_failing_mid_run_does_not_stop_the_others(media, test_checkpoints, tmp_path):
    """A row whose model file is corrupt passes validation (the file is there) and fails while loading: its error
    is one line in batch.json, its job folder keeps no partial result, and the next row is done."""
    broken = tmp_path / "ck"
    shutil.copytree(test_checkpoints, broken, symlinks=True, ignore=shutil.ignore_patterns("*.pth", "*.bin",
                                                                                           "*.safetensors"))
    for item in test_checkpoints.rglob("*"):
        target = broken / item.relative_to(test_checkpoints)
        if item.is_file() and not target.exists():
            target.symlink_to(item)
    spade = broken / "liveportrait" / "base_models" / "spade_generator.pth"
    spade.unlink()
    spade.write_bytes(b"\0" * 100)
    rows = read_manifest(_jsonl(media / "fail.jsonl", [_edit("broken", 0.3, checkpoints=str(broken)),
                                                       _edit("fine", 0.3)]))
    items = plan(rows, tmp_path / "out", {"checkpoints": str(test_checkpoints)})
    batch = run_batch(items, tmp_path / "out")
    failed, fine = batch.rows
    assert (failed.status, fine.status) == ("failed", "done") and not batch.ok
    assert "spade_generator.pth" in failed.error and "\n" not in failed.error
    assert sorted(p.name for p in items[0].job_dir.iterdir()) == ["log.txt", "request.json", "status.json"]
    assert json.loads((items[0].job_dir / "status.json").read_text())["status"] == "failed"
    assert _record(tmp_path / "out")["broken"]["error"] == failed.error


def test_sigterm_cancels_the_running_row_and_the_rerun_resumes(media, test_checkpoints, tmp_path, capsys):
    """The command under SIGTERM while row 2 runs: exit 130; row 2 cancelled at its next batch boundary (no
    result file, status cancelled), row 3 never started, batch.json says so. The rerun keeps row 1 as it was and runs
    rows 2 and 3."""
    manifest = _jsonl(media / "term.jsonl", [_edit("one", 0.2), _dub("two", 0.4, batch_size=1), _edit("three", 0.4)])
    out = tmp_path / "out"
    argv = ["batch", str(manifest), "--out-dir", str(out), "--checkpoints", str(test_checkpoints)]

    def terminate_mid_row() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = list(out.glob("two-*/log.txt"))
            if logs and "generating 1/" in logs[0].read_text():  # mid-row: the first of ten frames is done
                break
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)   # as `kill PID` would: core.cli.guarded turns it into a cancel

    killer = threading.Thread(target=terminate_mid_row, daemon=True)
    killer.start()
    assert main(argv) == 130
    killer.join()
    assert capsys.readouterr().err.strip().splitlines()[-1] == "cancelled"
    record = _record(out)
    assert [record[n]["status"] for n in ("one", "two", "three")] == ["done", "cancelled", "pending"]
    job = next(out.glob("two-*"))
    assert json.loads((job / "status.json").read_text())["status"] == "cancelled"
    assert sorted(p.name for p in job.iterdir()) == ["log.txt", "request.json", "status.json"]
    assert not (out / "two.mp4").exists() and not list(out.glob(".*part"))
    done_at = next(out.glob("one-*/status.json")).stat().st_mtime_ns

    assert main(argv) == 0
    record = _record(out)
    assert [record[n]["reused"] for n in ("one", "two", "three")] == [True, False, False]
    assert next(out.glob("one-*/status.json")).stat().st_mtime_ns == done_at
    assert abs(probe(out / "two.mp4").duration - 0.4) <= 0.04 and (out / "three.png").is_file()


def test_the_shipped_example_manifests_are_valid(test_checkpoints, tmp_path):
    """examples/batch/ holds a manifest per engine; each row passes validation as shipped."""
    folder = Path(__file__).resolve().parents[2] / "examples" / "batch"
    engines = set()
    for manifest in sorted(folder.iterdir()):
        items = plan(read_manifest(manifest), tmp_path / manifest.stem, {"checkpoints": str(test_checkpoints)})
        assert [i.error for i in items] == [""] * len(items), manifest.name
        engines |= {i.engine for i in items}
    assert engines == {"lipdub", "portrait", "avatar", "expression"}
