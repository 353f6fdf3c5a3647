"""What a creator chooses about the driving audio; plain types so engine requests and presets serialise it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInputError
from core.spec import check_fields, param

KEEP_CHOICES = ("mix", "vocals")
NORMALIZE_CHOICES = ("none", "peak", "loudness")
REST_CHOICES = ("on", "off", "source")   # "source" is lip-dub's only (EngineRequest.rest_modes)


@dataclass
class AudioOptions:
    """How to turn a creator's file into the driving signal and the output track (plain types: JSON/YAML friendly)."""

    audio: str                      # an audio file, or a video whose sound track is used
    start: float | None = None      # seconds; None = from the beginning
    end: float | None = None        # seconds; None = to the end
    separate_vocals: bool = False   # drive the engine with the separated vocals (MDX-Net Kim_Vocal_2)
    keep_audio: str = "mix"         # output track: "mix" (original, music stays), "vocals", or a path to another file
    normalize: str = "none"         # driving signal level: "none" | "peak" | "loudness"
    peak_dbfs: float = -1.0         # target for "peak"
    loudness_lufs: float = -20.0    # target for "loudness" (BS.1770 integrated, capped at -1 dBFS peak)
    device: str = "auto"            # where the separator runs (ONNX Runtime CUDA when onnxruntime-gpu is present)
    rest: str = param("on", "Rest on silence",
                      "on: the face rests, mouth closed, where the speech detector (silero-vad) finds no speech; "
                      "off: every frame follows the audio, as the reference models do; source (lip-dub only): "
                      "rest stretches keep the source video's own frames", choices=REST_CHOICES, group="rest")
    rest_min_pause: float = param(0.25, "Minimum pause", "silences shorter than this between words stay speech",
                                  range=(0.04, 2.0), step=0.01, unit="s", group="rest")

    def validate(self) -> None:
        check_fields(self)
        if not self.audio:
            raise BadInputError("no audio given: choose an audio file or a video with sound")
        if not Path(self.audio).is_file():
            raise BadInputError(f"audio file not found: {self.audio}")
        if self.keep_audio not in KEEP_CHOICES and not Path(self.keep_audio).is_file():
            raise BadInputError(f"--keep-audio must be mix, vocals or an existing audio file; {self.keep_audio!r} is none")
        if self.normalize not in NORMALIZE_CHOICES:
            raise BadInputError(f"normalize must be one of {', '.join(NORMALIZE_CHOICES)}, not {self.normalize!r}")
        if self.start is not None and self.start < 0:
            raise BadInputError(f"start {self.start} s is negative")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise BadInputError(f"end {self.end} s must be after start {self.start} s")

    @property
    def needs_preparation(self) -> bool:
        """True when the driving signal or the output track differ from the file's own range."""
        return self.separate_vocals or self.keep_audio != "mix" or self.normalize != "none"

    @property
    def needs_separation(self) -> bool:
        return self.separate_vocals or self.keep_audio == "vocals"
