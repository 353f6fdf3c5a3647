"""`python -m core separate` and the audio flags every engine subcommand shares.

Engine CLIs call ``add_audio_args(parser)`` and build their audio choice with ``audio_options_from_args(args)``; the
flags come from ``AudioOptions``' declared fields, so they are spelled and defaulted identically everywhere
(``--separate-vocals --keep-audio mix|vocals|PATH --start S
--end S --normalize none|peak|loudness``).
"""
from __future__ import annotations

import argparse

from core.audio.options import AudioOptions


def add_audio_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """The driving-audio flags, from ``AudioOptions``' declared fields (``--audio`` is required where ``required``)."""
    from core import spec

    spec.add_flags(parser.add_argument_group("audio preparation"), AudioOptions, required={"audio": required})


def audio_options_from_args(args: argparse.Namespace, audio: str | None = None) -> AudioOptions:
    """The AudioOptions these flags describe; ``audio`` defaults to ``args.audio``."""
    from core import spec

    values = spec.flag_values(AudioOptions, args)
    values["audio"] = audio if audio is not None else args.audio
    return AudioOptions(**values, device=getattr(args, "device", None) or "auto")


def _separate(args: argparse.Namespace) -> int:
    from core.audio.prepare import separate_file
    from core.progress import tqdm_progress
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
    from core.progress import tqdm_progress
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
