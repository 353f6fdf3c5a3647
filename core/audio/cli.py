"""`python -m core separate` and the audio flags every engine subcommand shares.

Engine CLIs call ``add_audio_args(parser)`` and build their audio choice with ``audio_options_from_args(args)``, so the
flags are spelled and defaulted identically everywhere (``--separate-vocals --keep-audio mix|vocals|PATH --start S
--end S --normalize none|peak|loudness``).
"""
from __future__ import annotations

import argparse

from core.audio.options import NORMALIZE_CHOICES, REST_CHOICES, AudioOptions


def add_audio_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("audio preparation")
    group.add_argument("--start", type=float, default=None, metavar="S", help="use the audio from S seconds")
    group.add_argument("--end", type=float, default=None, metavar="S", help="use the audio up to S seconds")
    group.add_argument("--separate-vocals", action="store_true",
                       help="drive the engine with vocals separated from music/noise (MDX-Net Kim_Vocal_2)")
    group.add_argument("--keep-audio", default="mix", metavar="mix|vocals|PATH",
                       help="sound of the output video: the original mix (default, music stays), the separated "
                            "vocals, or another audio file")
    group.add_argument("--normalize", choices=NORMALIZE_CHOICES, default="none",
                       help="level the driving signal: peak (to --peak-dbfs) or loudness (to --loudness-lufs)")
    group.add_argument("--peak-dbfs", type=float, default=-1.0, help="peak target for --normalize peak (dBFS)")
    group.add_argument("--loudness-lufs", type=float, default=-20.0,
                       help="integrated loudness target for --normalize loudness (LUFS)")
    group.add_argument("--rest", choices=REST_CHOICES, default="on",
                       help="on: the mouth rests where no speech is detected (default); off: every frame follows the "
                            "audio (the references' behaviour); source: lip-dub keeps the source frames there")
    group.add_argument("--rest-min-pause", type=float, default=0.25, metavar="S",
                       help="silences shorter than S seconds between words stay speech (default 0.25)")


def audio_options_from_args(args: argparse.Namespace, audio: str | None = None) -> AudioOptions:
    """The AudioOptions these flags describe; ``audio`` defaults to ``args.audio``."""
    return AudioOptions(
        audio=audio if audio is not None else args.audio,
        start=args.start, end=args.end, separate_vocals=args.separate_vocals, keep_audio=args.keep_audio,
        normalize=args.normalize, peak_dbfs=args.peak_dbfs, loudness_lufs=args.loudness_lufs,
        rest=args.rest, rest_min_pause=args.rest_min_pause,
        device=getattr(args, "device", None) or "auto",
    )


def _separate(args: argparse.Namespace) -> int:
    from core.audio.prepare import separate_file
    from core.cli import tqdm_progress
    from core.request import check_out_dir

    check_out_dir(args.out_dir)  # before the progress bar: a refusal is one line
    with tqdm_progress("separate") as report:
        vocals, accompaniment, hit = separate_file(args.audio, args.out_dir, args.start, args.end, args.device, report,
                                                   args.checkpoints)
    print(f"vocals: {vocals}\naccompaniment: {accompaniment}" + ("\n(from the separation cache)" if hit else ""))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    import json
    import shutil
    from pathlib import Path

    from core.audio.prepare import prepare_audio
    from core.cli import tqdm_progress
    from core.request import check_out_dir

    check_out_dir(args.out_dir)
    with tqdm_progress("prepare audio") as report:
        prepared = prepare_audio(audio_options_from_args(args), report, root=args.checkpoints)
    out = Path(args.out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(prepared.driving_wav, out / "driving.wav")
    shutil.copyfile(prepared.output_audio, out / "output_audio.wav")
    spans = [[round(a, 2), round(b, 2)] for a, b in prepared.silent_spans()]
    (out / "silence.json").write_text(json.dumps({"fps": prepared.fps, "silent": prepared.silence.astype(int).tolist(),
                                                  "silent_spans": spans}))
    speech = prepared.speech_map(float(args.rest_min_pause))
    (out / "speech.json").write_text(json.dumps({
        "fps": prepared.fps, "min_pause": float(args.rest_min_pause),
        "probability": [round(float(p), 3) for p in speech.prob], "speech": speech.speech.astype(int).tolist(),
        "rest_spans": [[round(a, 2), round(b, 2)] for a, b in speech.rest_spans()]}))
    for message in prepared.warnings:
        print(f"warning: {message}")
    print(f"{prepared.summary()}\nwrote driving.wav, output_audio.wav, silence.json, speech.json to {out}")
    return 0


def add_parser(subparsers) -> None:
    prep = subparsers.add_parser("prepare-audio", help="write the driving signal, output track and silence map an "
                                                       "engine would use (to check the audio settings)")
    prep.add_argument("--audio", required=True, help="audio file, or a video whose sound track is used")
    prep.add_argument("--out-dir", required=True, help="folder for driving.wav, output_audio.wav, silence.json")
    prep.add_argument("--device", default="auto", help="auto | cpu | cuda (for the vocal separator)")
    prep.add_argument("--checkpoints", help="checkpoints folder (default ./checkpoints or $MOUTHPIECE_CHECKPOINTS)")
    add_audio_args(prep)
    prep.set_defaults(func=_prepare)

    parser = subparsers.add_parser("separate", help="split a track (or a video's sound) into vocals and accompaniment")
    parser.add_argument("--audio", required=True, help="audio file, or a video whose sound track is used")
    parser.add_argument("--out-dir", required=True, help="folder for vocals.wav and accompaniment.wav (44.1 kHz)")
    parser.add_argument("--start", type=float, default=None, metavar="S", help="from S seconds")
    parser.add_argument("--end", type=float, default=None, metavar="S", help="up to S seconds")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (ONNX Runtime CUDA needs onnxruntime-gpu)")
    parser.add_argument("--checkpoints", help="checkpoints folder (default ./checkpoints or $MOUTHPIECE_CHECKPOINTS)")
    parser.set_defaults(func=_separate)
