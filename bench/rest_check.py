"""Does the mouth rest? Runs one engine command twice, with ``--rest on`` and ``--rest off``, and measures how much
the mouth region moves on the speech map's rest frames against its speech frames.

    python bench/rest_check.py --mouth x1,y1,x2,y2 [--json out.json] -- lipdub --video clip.mp4 \\
        --audio speech_with_pauses.wav [any other flags of the command]
    python bench/rest_check.py --mouth 200,300,330,380 -- portrait --image face.png --audio speech_with_pauses.wav

``--mouth`` is the mouth's box in pixels of the output video (the preview's overlay shows where the face is). Motion
per frame is the mean absolute difference of the box's pixels from the previous frame (0..255). Printed per run:
the median motion over full rest frames and over speech frames, and their ratio. With real weights, rest on should
show a far lower rest/speech ratio than rest off (a still, closed mouth in the pauses); on the tiny test weights the
numbers only show that the command runs. Needs speech with pauses of at least a second (the ramps take 3 frames
at each end of a rest stretch).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audio.cli import audio_options_from_args  # noqa: E402
from core.audio.prepare import driving_audio  # noqa: E402
from core.audio.rest import rest_weights, speech_map_for  # noqa: E402
from core.cli import build_parser  # noqa: E402
from core.cli import main as cli_main  # noqa: E402
from core.media import iter_video_frames  # noqa: E402
from core.request import parse_box  # noqa: E402


def mouth_motion(video: Path, box: list[float]) -> np.ndarray:
    """Per frame: mean |frame - previous frame| over the box (frame 0: 0)."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    motion, previous = [], None
    for frame in iter_video_frames(video):
        region = frame[y1:y2, x1:x2].astype(np.float32)
        motion.append(0.0 if previous is None else float(np.abs(region - previous).mean()))
        previous = region
    return np.asarray(motion)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mouth", required=True, help="x1,y1,x2,y2: the mouth's box in the output video's pixels")
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then an engine command without --out/--rest")
    args = parser.parse_args()
    command = [a for a in args.command if a != "--"]
    box = parse_box(args.mouth)
    engine_args = build_parser().parse_args(command + ["--out", "x.mp4"])
    options = audio_options_from_args(engine_args)
    options.rest = "on"
    samples, _ = driving_audio(options)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("on", "off"):
            out = Path(tmp) / f"rest_{mode}.mp4"
            code = cli_main(command + ["--rest", mode, "--out", str(out)])
            if code != 0:
                return code
            motion = mouth_motion(out, box)
            w = rest_weights(speech_map_for(options, samples, frames=len(motion)).rest)
            rest, speech = motion[w == 1.0][1:], motion[w == 0.0][1:]
            results[mode] = {"rest_frames": int(rest.size), "speech_frames": int(speech.size),
                             "rest_motion": float(np.median(rest)) if rest.size else None,
                             "speech_motion": float(np.median(speech)) if speech.size else None}
            r = results[mode]
            ratio = r["rest_motion"] / r["speech_motion"] if rest.size and speech.size and r["speech_motion"] else None
            r["ratio"] = ratio
    print("rest  rest frames  speech frames  mouth motion in rest  in speech  rest/speech")
    for mode, r in results.items():
        print(f"{mode:<5} {r['rest_frames']:>11}  {r['speech_frames']:>13}  {_fmt(r['rest_motion']):>20}  "
              f"{_fmt(r['speech_motion']):>9}  {_fmt(r['ratio']):>11}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
