"""Bad input is answered before any work, in one line, and leaves nothing behind: through the CLI (exit code 2, one
stderr line, no job folder) and through core's own loaders (corrupt ONNX files, truncated videos). The same cases
through the Gradio API are in test_studio_app.py, which shares its running studio."""
import os
import re
import shutil
from pathlib import Path

import pytest

from core import cli, paths
from tests.samples import make_tone, make_video, portrait_path, talking_clip

LIPDUB_BOX = "32,24,96,112"
PORTRAIT_BOX = "185,70,275,185"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_input_media")
    (d / "a_file").write_bytes(b"not a folder")
    (d / "a_folder").mkdir()
    return {"dir": d, "clip": talking_clip(d / "clip.mp4", seconds=0.4, size=(128, 128)),
            "voice": make_tone(d / "voice.wav", seconds=0.5, hz=220.0)}


def _engine_args(engine: str, media: dict, out: Path, *extra: str) -> list[str]:
    if engine == "lipdub":
        return ["lipdub", "--video", str(media["clip"]), "--audio", str(media["voice"]), "--rest", "off", "--out",
                str(out),
                "--box", LIPDUB_BOX, *extra]
    return ["portrait", "--image", str(portrait_path()), "--audio", str(media["voice"]), "--rest", "off", "--out",
            str(out),
            "--box", PORTRAIT_BOX, *extra]


def _refused(argv: list[str], capsys, before_work: bool = True) -> str:
    """Run the CLI, expect exit 2 and no traceback; return the error line. ``before_work``: it is the only stderr
    line and no job folder was made (a job that starts and fails keeps its request, log and status, nothing else)."""
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    if not before_work:
        return err.splitlines()[-1]
    assert "\n" not in err
    outputs = paths.outputs_dir()
    assert not outputs.exists() or not any(outputs.iterdir()), list(outputs.iterdir())
    return err


@pytest.mark.parametrize("engine", ["lipdub", "portrait"])
def test_unusable_output_paths_are_refused_before_work(engine, media, capsys, monkeypatch, test_checkpoints):
    d = media["dir"]
    ckpt = ["--checkpoints", str(test_checkpoints)]
    assert _refused(_engine_args(engine, media, d / "a_file" / "x.mp4", *ckpt), capsys) == \
        f"error: output {d / 'a_file' / 'x.mp4'}: {d / 'a_file'} is a file, not a folder"
    assert _refused(_engine_args(engine, media, d / "a_folder", *ckpt), capsys) == \
        f"error: output {d / 'a_folder'} is a folder: give a file name such as {d / 'a_folder' / 'result.mp4'}"
    locked = d / "locked"
    locked.mkdir(exist_ok=True)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    assert _refused(_engine_args(engine, media, locked / "new" / "x.mp4", *ckpt), capsys) == \
        f"error: output {locked / 'new' / 'x.mp4'}: the folder {locked} is not writable"


def test_separate_out_dir_is_checked_before_work(media, capsys, monkeypatch, test_checkpoints):
    d = media["dir"]

    def separate(out_dir) -> str:
        return _refused(["separate", "--audio", str(media["voice"]), "--out-dir", str(out_dir), "--checkpoints",
                         str(test_checkpoints)], capsys)

    assert separate(d / "a_file") == f"error: output folder {d / 'a_file'} is a file: give a folder"
    assert separate(d / "a_file" / "stems") == \
        f"error: output folder {d / 'a_file' / 'stems'}: {d / 'a_file'} is a file, not a folder"
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == d else real_access(p, mode))
    assert separate(d / "stems") == f"error: output folder {d / 'stems'}: the folder {d} is not writable"


def test_unreadable_photos_and_a_bad_point_are_one_line(media, capsys, test_checkpoints, tmp_path):
    empty, noise = tmp_path / "empty.png", tmp_path / "noise.png"
    empty.write_bytes(b"")
    noise.write_bytes(os.urandom(4096))
    out = tmp_path / "x.mp4"
    base = ["--audio", str(media["voice"]), "--rest", "off", "--out", str(out), "--checkpoints", str(test_checkpoints)]
    assert _refused(["portrait", "--image", str(empty), *base], capsys) == "error: empty.png is empty (0 bytes)"
    assert _refused(["portrait", "--image", str(noise), *base], capsys) == \
        "error: noise.png: unsupported image format (use PNG, JPEG, WebP or BMP)"
    assert _refused(["lipdub", "--video", str(media["clip"]), "--point", "left,top", *base], capsys) == \
        "error: bad face point 'left,top': expected 2 numbers x,y"


def _checkpoints_with(test_checkpoints: Path, tmp: Path, corrupt: str) -> Path:
    """A copy of the test checkpoints (hard links) whose ``corrupt`` file holds random bytes."""
    root = tmp / "ckpt"
    shutil.copytree(test_checkpoints, root, copy_function=os.link)
    (root / corrupt).unlink()
    (root / corrupt).write_bytes(os.urandom(2048))
    return root


@pytest.mark.parametrize("corrupt", ["insightface/models/buffalo_l/det_10g.onnx",
                                     "insightface/models/buffalo_l/2d106det.onnx", "liveportrait/landmark.onnx"])
def test_corrupt_face_models_name_the_file(corrupt, test_checkpoints, tmp_path):
    from core.errors import BadInputError
    from core.liveportrait.crop.cropper import FaceCropper

    root = _checkpoints_with(test_checkpoints, tmp_path, corrupt)
    with pytest.raises(BadInputError) as failure:
        FaceCropper(root)
    assert str(failure.value) == (f"{root / corrupt} is corrupt or not a weights file (InvalidProtobuf); "
                                  "delete it and run python download_weights.py")


def test_corrupt_onnx_through_the_cli(media, capsys, test_checkpoints, tmp_path):
    """The photo engine and the separator say which file to delete, like a corrupt .pth; no onnxruntime traceback."""
    detector = "insightface/models/buffalo_l/det_10g.onnx"
    root = _checkpoints_with(test_checkpoints, tmp_path / "a", detector)
    err = _refused(_engine_args("portrait", media, tmp_path / "x.mp4", "--checkpoints", str(root)), capsys, False)
    assert err == f"error: {root / detector} is corrupt or not a weights file (InvalidProtobuf); delete it and " \
                  "run python download_weights.py"
    separator = "audio-separator/Kim_Vocal_2.onnx"
    root = _checkpoints_with(test_checkpoints, tmp_path / "b", separator)
    assert _refused(["separate", "--audio", str(media["voice"]), "--out-dir", str(tmp_path / "stems"),
                     "--checkpoints", str(root)], capsys, False) == \
        f"error: {root / separator} is corrupt or not a weights file (InvalidProtobuf); delete it and run " \
        "python download_weights.py"
    assert not (tmp_path / "stems").exists()


def test_truncated_video_warns_how_much_could_be_read(tmp_path):
    """An MP4 whose header (moov first) promises 2 s but whose bytes stop halfway: frames past the cut hold the last
    readable one, and the lip-dub source reports how much of the video could be read."""
    import av

    from core.engines.lipdub.source import FrameSource

    full = make_video(tmp_path / "full.mp4", seconds=2.0, fps=25, size=(96, 64), tone_hz=None)
    moov_first = tmp_path / "take.mp4"
    with av.open(str(full)) as src, av.open(str(moov_first), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = moov_first.read_bytes()
    moov_first.write_bytes(data[:len(data) // 2])
    source = FrameSource(moov_first)
    frames = sum(len(batch) for _, batch in source.batches(16))
    assert frames == 50
    assert len(source.warnings) == 1
    found = re.fullmatch(r"take\.mp4 is truncated: only (\d\.\d\d) s of its 2\.00 s of video could be read "
                         r"\((\d+) of 50 frames\); its last readable frame is held for the rest", source.warnings[0])
    assert found, source.warnings[0]
    assert 1 <= int(found[2]) < 50 and float(found[1]) == pytest.approx(int(found[2]) / 25)
