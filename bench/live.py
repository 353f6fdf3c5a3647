"""Live lip-dub: sustained fps, sound-to-frame latency and the budget per step, on a file fed as a microphone.

    flock /tmp/mouthpiece-heavy.lock python bench/live.py [--size 1280x720] [--idle-seconds 3] [--seconds 10]
        [--chunk-ms 40] [--pace realtime|fast] [--device auto] [--dtype auto] [--tiny] [--json out.json]

Targets (issue 17): on one H100 in fp16, 256x256 face crops on a 720p idle video, >= 25 fps sustained and <= 300 ms from
a sound entering to the frame that shows it leaving the server. How it is measured:
``core.engines.lipdub.live.cli.feed_file`` pushes the audio in ``--chunk-ms`` pieces, each when it would have been
spoken (``--pace realtime``, the default); a frame's sound *enters* when the chunk holding the frame's first audio
sample has arrived, and the frame *leaves* once it is H.264-encoded (the encode is timed in the budget); the latency is
the difference, so it includes the chunk length, the look-ahead (160 ms: MuseTalk's window reads 120 ms ahead) and the
compute. Sustained fps is the frames drawn over the wall time from the first push to the last frame out; with realtime
pacing it cannot exceed 25, and a session that keeps up shows a flat latency (p95 close to p50) instead of one that
grows chunk by chunk. ``--pace fast`` pushes as fast as the session takes the audio: the fps is then the compute's
ceiling. Budget per step, in ms per frame: features (whisper on the rolling buffer), latents, UNet, VAE decode, blend,
encode (H.264); transport is the network and the browser player, outside this process (the Live tab's segments add the
0.5 s microphone chunk and the player's load of each segment: see ``ui/tabs/live.py``). Full-size random weights (the
official architectures, ``bench/lipdub.py``), or ``--tiny`` (the test weights).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audio.options import AudioOptions
from core.engines.lipdub.live.cli import STEPS, feed_file, summary
from core.engines.lipdub.live.request import LiveRequest
from tests.samples import make_tone, talking_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--idle-seconds", type=float, default=3.0)
    ap.add_argument("--seconds", type=float, default=10.0, help="audio fed")
    ap.add_argument("--chunk-ms", type=int, default=40)
    ap.add_argument("--pace", choices=["realtime", "fast"], default="realtime")
    ap.add_argument("--batch", type=int, default=4, help="frames per UNet call at most")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--tiny", action="store_true", help="tiny test weights (CPU smoke run)")
    ap.add_argument("--json")
    args = ap.parse_args()
    from core import weights

    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.tiny:
            root = weights.make_test_checkpoints(tmp / "ckpt")
        else:
            from bench.lipdub import CKPT_FULL, write_full_random

            root = write_full_random(CKPT_FULL)
        idle = talking_clip(tmp / "idle.mp4", seconds=args.idle_seconds, size=(w, h))
        audio = make_tone(tmp / "voice.wav", seconds=args.seconds, hz=220.0)
        box = [int(170 / 512 * w), int(60 / 512 * h), int(330 / 512 * w), int(250 / 512 * h)]
        req = LiveRequest(video=str(idle), audio=AudioOptions(str(audio)), box=box, checkpoints=str(root),
                          batch_size=args.batch, device=args.device, dtype=args.dtype, output=str(tmp / "live.mp4"))
        print(f"{w}x{h} idle {args.idle_seconds} s, audio {args.seconds} s in {args.chunk_ms} ms chunks, pace "
              f"{args.pace}, {'tiny' if args.tiny else 'full-size'} random weights, {torch.get_num_threads()} threads")
        # A first session prepares the idle video (cached) and loads the models; the measured one starts warm.
        feed_file(LiveRequest(**{**req.__dict__, "audio": AudioOptions(str(make_tone(tmp / "w.wav", 0.5)))}), "fast")
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        _, rows, seconds = feed_file(req, args.pace, args.chunk_ms)
    frames = sum(r["n"] for r in rows)
    lat = np.array([r["latency_ms"] for r in rows])
    out = {
        "size": [w, h], "pace": args.pace, "chunk_ms": args.chunk_ms, "frames": frames,
        "sustained_fps": round(frames / seconds, 2),
        "latency_ms": {"p50": round(float(np.percentile(lat, 50))), "p95": round(float(np.percentile(lat, 95))),
                       "max": round(float(lat.max()))},
        "ms_per_frame": {k: round(sum(r[k] for r in rows) / max(frames, 1), 2) for k in STEPS},
        "transport": "outside this process (browser: + the 0.5 s microphone chunk and the segment's load)",
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None,
    }
    print(summary(rows, seconds))
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
