"""The request vocabulary every engine shares, and its validation (the CLI and the UI build requests through it).

Engine requests are ``@dataclass(kw_only=True)`` subclasses of ``EngineRequest`` (or ``FaceRequest`` when the engine
works on one face among several) with plain-typed fields, so they serialise to ``request.json`` and YAML presets.
Each field a creator sets is declared once with ``core.spec.param`` (label, help, default, range or choices), and the
CLI flags, the range checks, the studio's controls and ``docs/parameters.md`` follow from that declaration.
``validate()`` checks every declared field (``core.spec.check_fields``), then the engine's ``check()``, which keeps only
the rules that tie fields together or look at files, so a bad value gives the same one-line message whether it came
from a flag, an API call or a slider.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.audio.options import AudioOptions
from core.errors import BadInputError
from core.spec import check_fields, param

DTYPE_CHOICES = ("auto", "fp32", "fp16", "bf16")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")


@dataclass(kw_only=True)
class EngineRequest:
    """Fields every engine understands, with one meaning each.

    ``dtype``: "auto" = fp16 on CUDA and fp32 on the CPU (an engine whose reference needs bf16 says so);
    fp16 / bf16 run on the CPU too (slowly), which is how the half-precision paths are tested without a GPU.
    ``output``: where the result is copied when the job succeeds (checked writable before any work); the result
    always also stays in the job folder ``outputs/<job-id>/``.
    """

    audio: AudioOptions | None = param(None, "Driving audio", "the driving audio and the output track (see the "
                                       "audio parameters)", cli=False, ui=False)
    output: str | None = param(None, "Output file", "where the result is copied when the job succeeds (it also stays "
                               "in the job folder)", flag="--out", ui=False)
    crf: int = param(18, "Quality (CRF, lower = better)", "H.264 quality: 0 is lossless, 51 the worst",
                     range=(0, 51), step=1, group="advanced")
    device: str = param("auto", "Device", "auto (CUDA when present), cpu, cuda or cuda:N",
                        suggestions=("auto", "cpu", "cuda"), group="advanced")
    dtype: str = param("auto", "Precision", "auto = fp16 on CUDA (bf16 where the engine says so), fp32 on the CPU",
                       choices=DTYPE_CHOICES, group="advanced")
    memory: str = param("auto", "Memory profile", "where the models wait between uses: full (all on the GPU), "
                        "offload (moved to the GPU in turn), low (layer by layer, slowest); auto picks from the free "
                        "VRAM at job start", choices=("auto", "full", "offload", "low"), group="advanced")
    seed: int = param(0, "Seed", "the random seed (the same seed and request give the same result)",
                      group="advanced")
    checkpoints: str | None = param(None, "Checkpoints folder", "weights folder (default ./checkpoints or "
                                    "$MOUTHPIECE_CHECKPOINTS)", ui=False)

    needs_audio = True                   # class attribute: False where the audio is optional
    rest_modes = ("on", "off")           # class attribute: the audio's rest modes this engine offers

    def validate(self):
        """Shared checks, then the engine's own ``check()``; returns self. Raises BadInputError (one line)."""
        if self.audio is None:
            if self.needs_audio:
                raise BadInputError("no driving audio: choose an audio file, or a video whose sound should drive it")
        else:
            self.audio.validate()
            if self.audio.rest not in self.rest_modes:
                raise BadInputError(f"Rest on silence must be one of {' | '.join(self.rest_modes)} for this engine, "
                                    f"got {self.audio.rest!r}")
        check_fields(self)
        if self.output:
            check_output(self.output, VIDEO_SUFFIXES)
        self.check()
        return self

    def check(self) -> None:
        """The engine's own checks that the field declarations cannot express (fields that depend on each other,
        files); override in the engine's request."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """The request a ``request.json`` / preset dict describes (the audio options as a nested dict)."""
        values = dict(data)
        if isinstance(values.get("audio"), dict):
            values["audio"] = AudioOptions(**values["audio"])
        return cls(**values)


@dataclass(kw_only=True)
class FaceRequest(EngineRequest):
    """A request that works on one face: which one, with the same meaning in every engine.

    ``face``: the N-th face counted from the left of the first frame (0 = leftmost); None = the largest face.
    ``box``: four numbers x1, y1, x2, y2 in pixels of the first frame: a manual face box, no detection.
    ``point``: x, y in pixels of the first frame: the face under this point.
    At most one of them is set.
    """

    face: int | None = param(None, "Face number from the left", "the N-th face counted from the left of the first "
                             "frame (0 = leftmost); none = the largest face", range=(0, None), exclusive="face",
                             ui=False)
    box: list[float] | None = param(None, "Manual face box", "x1,y1,x2,y2 in pixels of the first frame (no "
                                    "detection)", parse=lambda v: parse_box(v), exclusive="face", ui=False)
    point: list[float] | None = param(None, "Face at point", "x,y in pixels of the first frame: the face under this "
                                      "point", parse=lambda v: parse_point(v), exclusive="face", ui=False)


def _numbers(value: Any, count: int, what: str, form: str) -> list[float]:
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", ",").split(",") if p]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = []
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != count or not all(map(math.isfinite, numbers)):
        raise BadInputError(f"bad {what} {value!r}: expected {count} numbers {form}")
    return numbers


def parse_box(value: Any) -> list[float]:
    """'x1,y1,x2,y2' (or four numbers) -> [x1, y1, x2, y2] with x2 > x1 and y2 > y1."""
    box = _numbers(value, 4, "face box", "x1,y1,x2,y2")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise BadInputError(f"bad face box {value!r}: x2 must be right of x1 and y2 below y1")
    return box


def parse_point(value: Any) -> list[float]:
    """'x,y' (or two numbers) -> [x, y]."""
    return _numbers(value, 2, "face point", "x,y")


def read_yaml(path: str | os.PathLike, what: str) -> Any:
    """The content of a YAML file a flag names (a timeline, keyframes): safe loading only, one-line errors."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"{what} file {p} does not exist")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInputError(f"{what} file {p} is not a text (YAML) file") from None
    except yaml.YAMLError as exc:
        raise BadInputError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from exc


def check_output(path: str | os.PathLike, suffixes: tuple[str, ...]) -> Path:
    """Refuse, before any work, an output path that cannot be written: a folder, a parent that is a file, a parent
    that is not writable, or a suffix the writer does not know."""
    out = Path(path).expanduser()
    if out.is_dir():
        raise BadInputError(f"output {out} is a folder: give a file name such as {out / ('result' + suffixes[0])}")
    if out.suffix.lower() not in suffixes:
        raise BadInputError(f"output {out.name}: use one of {', '.join(suffixes)}")
    _check_creatable(out.parent, f"output {out}")
    return out


def check_out_dir(path: str | os.PathLike) -> Path:
    """Refuse, before any work, an output folder that is a file, lies under a file, or cannot be written."""
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise BadInputError(f"output folder {out} is a file: give a folder")
    _check_creatable(out, f"output folder {out}")
    return out


def _check_creatable(folder: Path, what: str) -> None:
    """``folder`` exists or can be made: its nearest existing ancestor is a folder we can really write in.

    Permission bits are not enough (root passes them for ``/proc``, a read-only mount or a root-squashed share), so a
    probe file is created and removed there before any work."""
    existing = folder if str(folder) else Path(".")
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise BadInputError(f"{what}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BadInputError(f"{what}: the folder {existing} is not writable")
    try:
        fd, probe = tempfile.mkstemp(prefix=".mouthpiece-write-check-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BadInputError(f"{what}: cannot write in the folder {existing} ({exc.strerror or exc})") from None
