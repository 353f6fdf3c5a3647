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

    audio: str = param(label="Driving audio", help="an audio file, or a video whose sound track is used",
                       ui=False)
    start: float | None = param(None, "Start", "use the audio from this second (none = from the beginning)",
                                range=(0, None), unit="s", ui=False)
    end: float | None = param(None, "End", "use the audio up to this second (none = to the end)",
                              range=(0, None), unit="s", ui=False)
    separate_vocals: bool = param(False, "Drive with separated vocals",
                                  "drive the engine with vocals separated from music/noise (MDX-Net Kim_Vocal_2)")
    keep_audio: str = param("mix", "Output sound", "sound of the output video: the original mix (music stays), "
                            "the separated vocals, or another audio file (a path)", suggestions=KEEP_CHOICES)
    normalize: str = param("none", "Level the driving signal", "none, peak (to the peak target) or loudness "
                           "(to the loudness target)", choices=NORMALIZE_CHOICES)
    peak_dbfs: float = param(-1.0, "Peak target", "peak level for normalize = peak", range=(-40, 0), unit="dBFS",
                             group="advanced")
    loudness_lufs: float = param(-20.0, "Loudness target", "integrated loudness (BS.1770) for normalize = loudness, "
                                 "capped at -1 dBFS peak", range=(-40, -5), unit="LUFS", group="advanced")
    rest: str = param("on", "Rest on silence",
                      "on: the face rests, mouth closed, where the speech detector (silero-vad) finds no speech; "
                      "off: every frame follows the audio, as the reference models do; source (lip-dub only): "
                      "rest stretches keep the source video's own frames", choices=REST_CHOICES, group="rest")
    rest_min_pause: float = param(0.25, "Minimum pause", "silences shorter than this between words stay speech",
                                  range=(0.04, 2.0), step=0.01, unit="s", group="rest")
    device: str = "auto"  # where the separator runs: the request's device (ONNX Runtime CUDA with onnxruntime-gpu)

    def validate(self) -> None:
        if not self.audio:
            raise BadInputError("no audio given: choose an audio file or a video with sound")
        if not Path(self.audio).is_file():
            raise BadInputError(f"audio file not found: {self.audio}")
        if self.keep_audio not in KEEP_CHOICES and not Path(self.keep_audio).is_file():
            raise BadInputError(f"--keep-audio must be mix, vocals or an existing audio file; "
                                f"{self.keep_audio!r} is none")
        check_fields(self)
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise BadInputError(f"end {self.end} s must be after start {self.start} s")

    @property
    def needs_preparation(self) -> bool:
        """True when the driving signal or the output track differ from the file's own range."""
        return self.separate_vocals or self.keep_audio != "mix" or self.normalize != "none"

    @property
    def needs_separation(self) -> bool:
        return self.separate_vocals or self.keep_audio == "vocals"
