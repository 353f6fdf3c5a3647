"""Working sizes: a video or photo larger than the engine's working size is processed downscaled, with a warning
naming both sizes, and boxes or points given in the file's pixels follow the downscale."""
import re
from pathlib import Path

import pytest
from PIL import Image

from core import cli
from core.engines.lipdub import LipdubRequest
from core.engines.portrait import PortraitRequest
from tests.samples import make_tone, make_video, portrait_path


def test_default_working_sizes():
    assert LipdubRequest.max_side == 1920 and PortraitRequest.max_side == 2048


def test_video_over_the_working_size_is_read_downscaled(tmp_path):
    from core.engines.lipdub.source import FrameSource

    clip = make_video(tmp_path / "wide.mp4", seconds=0.2, fps=25, size=(160, 120), tone_hz=None)
    source = FrameSource(clip, max_side=80)
    assert source.hw == (60, 80) and source.scale == 0.5
    assert source.warnings == ["wide.mp4 is 160x120: dubbed at 80x60 (max video side 80; 0 keeps the full size)"]
    assert source.scaled([32, 24, 96, 112]) == [16.0, 12.0, 48.0, 56.0]
    assert all(batch.shape[1:] == (60, 80, 3) for _, batch in source.batches(4))
    assert source.frames([0, 3]).shape == (2, 60, 80, 3)
    kept = FrameSource(clip, max_side=0)
    assert kept.hw == (120, 160) and kept.scale == 1.0 and kept.warnings == []


def test_photo_over_the_working_size_is_animated_downscaled(tmp_path, capsys, test_checkpoints):
    """A 2560x2560 photo with a box in its own pixels: the preview is 2048x2048 and the crop lands on the face."""
    big = tmp_path / "big.png"
    Image.open(portrait_path()).resize((2560, 2560)).save(big)
    voice = make_tone(tmp_path / "voice.wav", seconds=0.3)
    png = tmp_path / "first.png"
    code = cli.main(["portrait", "--image", str(big), "--audio", str(voice), "--rest", "off", "--box",
                     "925,350,1375,925",
                     "--preview", str(png), "--checkpoints", str(test_checkpoints), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "warning: big.png is 2560x2560: animated at 2048x2048 (max photo side 2048; 0 keeps the full size)" in err
    assert Image.open(png).size == (2048, 2048)
    crop = Path(re.sub(r"\.png$", "_crop.png", str(png)))
    assert Image.open(crop).size == (2048, 2048)  # the crop square drawn on the photo as processed


def test_negative_working_size_is_refused():
    from core.errors import BadInputError

    with pytest.raises(BadInputError, match="Max video side must be 0 or more, got -1"):
        LipdubRequest(video=str(portrait_path()), max_side=-1).check()


def test_photo_render_memory_does_not_grow_with_frames(tmp_path, test_checkpoints):
    """Peak RSS of the photo engine's render loop (2048x2048 photo, paste-back at full size) for 16 and for 160
    frames, each in its own process: the same, give or take 64 MiB (holding the frames would add ~1.9 GB).
    The renderer is a constant (see tests/studio_memory_probe.py) and the encoder's place takes each batch and drops
    it, so the check stays seconds on a CPU; x264's own buffers are bounded by its lookahead (measured in the report
    of issue 9: the whole job's peak stops growing after ~60 frames)."""
    import os
    import subprocess
    import sys

    photo = tmp_path / "photo2048.png"
    Image.open(portrait_path()).resize((2048, 2048)).save(photo)
    voice = make_tone(tmp_path / "voice.wav", seconds=0.3)
    root = Path(__file__).resolve().parents[2]

    def peak_mib(frames: int) -> int:
        run = subprocess.run([sys.executable, "-m", "tests.studio_memory_probe", str(photo), str(voice),
                              str(test_checkpoints), str(frames), "8"], cwd=root, env=dict(os.environ),
                             capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        return int(run.stdout.split()[-1])

    few, many = peak_mib(16), peak_mib(160)
    assert abs(many - few) < 64, (few, many)
