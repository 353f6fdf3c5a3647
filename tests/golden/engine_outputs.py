"""Golden digests of every engine's result on tiny random weights, through the public CLI.

    python tests/golden/engine_outputs.py            # print the digests
    python tests/golden/engine_outputs.py --write    # store them in tests/golden/engine_outputs.json

The stored file was written by the code before the parameter spec (issue 15) took over flags and validation, so
the test that compares against it (tests/core/test_outputs_unchanged.py) shows that moving the parameters changed
no output: the decoded frames and the decoded audio of each result are bit-identical (digests of the raw samples,
independent of container muxing details). Media: a synthetic talking clip and a tone (lip-dub), the public-domain
astronaut and a modulated tone (photo, avatar, expression). Rest-on-silence is off in these runs: it arrived after the
digests were taken, and the tone has no pauses anyway.

History: the four digests were written at commit b3260a3 (before the spec) and matched after the spec was wired
(commit d0c0f81 and the merges up to the rest-on-silence merge). The expression digest was then rewritten once, on
purpose, for issue 16's reference fix: still edits now add the head's z translation as LivePortrait's retargeting does
(tests/engines/expression/test_harden_tz.py pins that value against the reference's); the other three are unchanged.
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
GOLDEN = Path(__file__).with_suffix(".json")
FACE_BOX = "185,70,275,185"   # the astronaut's face


def _digest(path: Path) -> dict:
    """sha256 of the decoded RGB frames and of the decoded audio samples (or of the PNG's pixels)."""
    import av
    from PIL import Image

    if path.suffix == ".png":
        with Image.open(path) as img:
            return {"pixels": hashlib.sha256(np.asarray(img.convert("RGB")).tobytes()).hexdigest()}
    frames, audio = hashlib.sha256(), hashlib.sha256()
    count = 0
    with av.open(str(path)) as box:
        for frame in box.decode(video=0):
            frames.update(frame.to_ndarray(format="rgb24").tobytes())
            count += 1
    with av.open(str(path)) as box:
        for frame in box.decode(audio=0):
            audio.update(frame.to_ndarray().tobytes())
    return {"frames": frames.hexdigest(), "frame_count": count, "audio": audio.hexdigest()}


def commands(media: dict[str, Path], ckpt: Path, out: Path) -> dict[str, list[str]]:
    """One CLI call per engine (the public flags, stable across the change)."""
    common = ["--checkpoints", str(ckpt), "--device", "cpu", "--seed", "3"]
    return {
        "lipdub": ["lipdub", "--video", str(media["clip"]), "--audio", str(media["tone"]), "--box", "32,24,96,112",
                   "--batch", "8", "--out", str(out / "lipdub.mp4"), *common],
        "portrait": ["portrait", "--image", str(media["photo"]), "--audio", str(media["voice"]), "--box", FACE_BOX,
                     "--steps", "2", "--out", str(out / "portrait.mp4"), *common],
        "avatar": ["avatar", "--image", str(media["photo"]), "--audio", str(media["voice"]), "--size", "64x48",
                   "--steps", "2", "--out", str(out / "avatar.mp4"), *common],
        "expression": ["expression", "--image", str(media["photo"]), "--box", FACE_BOX, "--edit", "smile=0.6,yaw=8",
                       "--out", str(out / "expression.png"), *common],
    }


def run_all(work: Path, rest_off: bool = False) -> dict[str, dict]:
    """Make media and tiny checkpoints under ``work``, run every engine, return the digests by engine."""
    import soundfile as sf

    from core import weights
    from core.cli import main
    from tests.samples import make_tone, portrait_path, talking_clip

    work.mkdir(parents=True, exist_ok=True)
    sr = 16000
    t = np.arange(int(sr * 0.62)) / sr
    voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    sf.write(work / "voice.wav", voice.astype(np.float32), sr)
    media = {"clip": talking_clip(work / "clip.mp4", seconds=0.4, size=(128, 128)),
             "tone": make_tone(work / "tone.wav", seconds=0.8, hz=220.0),
             "voice": work / "voice.wav", "photo": portrait_path()}
    ckpt = weights.make_test_checkpoints(work / "ckpt")
    out = work / "out"
    out.mkdir(exist_ok=True)
    digests = {}
    for engine, argv in commands(media, ckpt, out).items():
        if rest_off and engine != "expression":
            argv = [*argv, "--rest", "off"]
        code = main(argv)
        if code != 0:
            raise SystemExit(f"{engine} exited {code}")
        digests[engine] = _digest(Path(argv[argv.index("--out") + 1]))
    return digests


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        result = run_all(Path(tmp))
    print(json.dumps(result, indent=2))
    if "--write" in sys.argv:
        GOLDEN.write_text(json.dumps(result, indent=2) + "\n")
