"""The shared "Audio" panel every tab embeds: file, trim range, the speech map (made on upload, next to the range: the
waveform with speech shaded and the face's rest stretches marked) and the rest controls under it, vocal separation,
output track, normalisation, and a preview of the prepared driving audio (waveform with silent spans shaded). It lays
out controls and calls core.audio.

Usage in a tab::

    panel = audio_panel("lipdub")
    run.click(fn, [video, *panel.inputs, ...], ...)   # then panel.options(*values) -> AudioOptions

``panel.fields`` maps AudioOptions field names to components for ``ui.components.preset_panel``. The first panel in an
app also carries the public ``separate`` endpoint (audio in; vocals.wav and accompaniment.wav out).
"""
from __future__ import annotations

import shutil
import weakref
from dataclasses import dataclass

import gradio as gr
from gradio.context import Context

from core.audio.options import AudioOptions
from core.errors import BadInputError
from core.spec import spec_of
from ui.components import SETTINGS, progress_adapter, run_action, ui_language

KEEP_LABELS = {"mix": "Original mix (music stays)", "vocals": "Separated vocals only", "file": "Another audio file"}
NORMALIZE_LABELS = {"none": "Off", "peak": "Peak (-1 dBFS)", "loudness": "Loudness (-20 LUFS)"}
REST_LABELS = {"on": "On: the mouth rests", "off": "Off: follow every sound", "source": "Keep the source frames"}
_separate_registered: weakref.WeakSet[gr.Blocks] = weakref.WeakSet()


def _path(value) -> str | None:
    if value is None or value == "":
        return None
    return str(getattr(value, "name", value))


def options_from_values(audio, start, end, separate_vocals, keep, keep_file, normalize, rest=None,
                        rest_min_pause=None) -> AudioOptions:
    """The AudioOptions the panel's values describe (0 start = beginning, empty or 0 end = to the end; rest values
    left out take the request's defaults)."""
    path = _path(audio)
    if path is None:
        raise BadInputError("no driving audio: drop an audio file, or a video whose sound should drive the face")
    if keep == "file":
        keep_audio = _path(keep_file)
        if keep_audio is None:
            raise BadInputError("'Another audio file' is selected for the output track, but no file was given")
    else:
        keep_audio = keep or "mix"
    rest_values = {k: v for k, v in (("rest", rest), ("rest_min_pause", rest_min_pause)) if v is not None}
    return AudioOptions(audio=path, start=float(start) if start else None, end=float(end) if end else None,
                        separate_vocals=bool(separate_vocals), keep_audio=keep_audio, normalize=normalize or "none",
                        device=SETTINGS.device, **rest_values)


def speech_map(audio, start, end, rest=None, rest_min_pause=None):
    """The speech-map picture of the file's range (its own sound, 16 kHz: separation is not run here) and one line
    naming where the face will rest."""
    from core.audio.prepare import FPS, speech_probabilities
    from core.audio.preview import speech_map_image
    from core.audio.silence import silent_spans
    from core.audio.vad import decide
    from core.media import load_audio

    if _path(audio) is None:
        return None, ""
    options = options_from_values(audio, start, end, False, "mix", None, "none", rest, rest_min_pause)
    options.validate()
    samples = load_audio(options.audio, sr=16000, start=options.start, end=options.end)
    speech = decide(speech_probabilities(samples), FPS, float(options.rest_min_pause))
    spans = silent_spans(~speech, FPS)
    if options.rest == "off":
        line = "Rest is off: every frame follows the audio."
    elif not speech.any():
        line = "**No speech found** (music or noise only?): Generate refuses this audio while rest is on."
    elif not spans:
        line = "Speech throughout: the face never rests."
    else:
        shown = ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in spans[:8]) + (" …" if len(spans) > 8 else "")
        line = f"The face rests at {shown}."
    return speech_map_image(samples, speech, FPS), line


def preview(audio, start, end, separate_vocals, keep, keep_file, normalize, rest=None, rest_min_pause=None,
            progress=gr.Progress()):
    """Prepare the audio (cached) and return the driving wav, its waveform picture and a one-line summary (with the
    rest stretches of the driving signal, the separated vocals when they drive)."""
    from core.audio.prepare import prepare_audio
    from core.audio.preview import waveform_image

    options = options_from_values(audio, start, end, separate_vocals, keep, keep_file, normalize, rest, rest_min_pause)
    prepared = prepare_audio(options, progress_adapter(progress), root=SETTINGS.checkpoints)
    for message in prepared.warnings:
        gr.Warning(ui_language(message))
    picture = waveform_image(prepared.driving_samples(), prepared.silence, prepared.fps, prepared.sample_rate)
    spans = prepared.silent_spans()
    silent = ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in spans[:8]) + (" …" if len(spans) > 8 else "")
    summary = f"**Driving audio:** {prepared.summary()}." + (f" Silent: {silent}." if spans else "")
    if options.rest != "off":
        rests = prepared.speech_map(options.rest_min_pause).rest_spans()
        summary += " Rest: " + (", ".join(f"{a:.2f}–{b:.2f} s" for a, b in rests[:8]) or "none") + "."
    return str(prepared.driving_wav), picture, summary


def separate(audio, start, end, progress=gr.Progress()):
    """The `separate` endpoint: vocals.wav and accompaniment.wav (44.1 kHz) for the file and range."""
    from core.audio.prepare import separate_file
    from core.jobs import new_job_dir

    path = _path(audio)
    if path is None:
        raise BadInputError("no audio to separate: drop an audio file or a video with sound")
    out = new_job_dir("separate")  # outputs/<job-id>/: the stems stay with the studio's other results
    try:
        vocals, accompaniment, _ = separate_file(path, out, float(start) if start else None,
                                                 float(end) if end else None, SETTINGS.device,
                                                 progress_adapter(progress), SETTINGS.checkpoints)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return str(vocals), str(accompaniment)


def _fill_end(audio):
    """Show the file's duration as the default end of the range."""
    from core.audio.decode import duration_of

    path = _path(audio)
    return round(duration_of(path), 2) if path else None


@dataclass
class AudioPanel:
    audio: gr.File
    start: gr.Number
    end: gr.Number
    separate_vocals: gr.Checkbox
    keep: gr.Radio
    keep_file: gr.File
    normalize: gr.Radio
    rest: gr.Radio
    rest_min_pause: gr.Slider
    speech: gr.Image
    player: gr.Audio
    waveform: gr.Image
    summary: gr.Markdown

    @property
    def inputs(self) -> list:
        """Components, in the order ``options`` takes their values."""
        return [self.audio, self.start, self.end, self.separate_vocals, self.keep, self.keep_file, self.normalize,
                self.rest, self.rest_min_pause]

    @property
    def fields(self) -> dict:
        """AudioOptions field -> component, for presets (the output-track file itself is not saved)."""
        return {"start": self.start, "end": self.end, "separate_vocals": self.separate_vocals,
                "normalize": self.normalize, "rest": self.rest, "rest_min_pause": self.rest_min_pause}

    @staticmethod
    def options(*values) -> AudioOptions:
        return options_from_values(*values)


def _rest_modes(tab: str) -> tuple[str, ...]:
    """The rest modes the tab's engine offers (``EngineRequest.rest_modes``; lip-dub adds "source")."""
    from core.engine import ENGINES

    for engine in ENGINES:
        if engine.name == tab and engine.generates:
            return engine.request_type.rest_modes
    return ("on", "off")


def audio_panel(tab: str, label: str = "Driving audio") -> AudioPanel:
    """Lay out the panel inside the current Blocks context; ``tab`` names its preview endpoint
    ``<tab>_prepare_audio``."""
    with gr.Row():
        audio = gr.File(label=f"{label} (audio, or a video whose sound is used)", type="filepath",
                        file_types=["audio", "video"], scale=3, height=110, elem_id=f"{tab}-audio")
        with gr.Column(scale=1, min_width=160):
            start = gr.Number(value=0, minimum=0, label="Start (s)", precision=2)
            end = gr.Number(value=None, minimum=0, label="End (s), 0 = to the end", precision=2)
        speech = gr.Image(label="Speech map (green: speech; orange band: the face rests)", type="numpy",
                          interactive=False, scale=3, height=130, elem_id=f"{tab}-speech-map")
    rest_spec, pause_spec = spec_of(AudioOptions, "rest"), spec_of(AudioOptions, "rest_min_pause")
    with gr.Row():
        rest = gr.Radio([(REST_LABELS[m], m) for m in _rest_modes(tab)], value=rest_spec.default,
                        label=rest_spec.param.label, info=rest_spec.param.help, scale=2)
        lo, hi = pause_spec.param.range
        rest_min_pause = gr.Slider(lo, hi, value=pause_spec.default, step=pause_spec.param.step,
                                   label=f"{pause_spec.param.label} ({pause_spec.param.unit})",
                                   info=pause_spec.param.help, scale=1)
        rest_summary = gr.Markdown(elem_id=f"{tab}-rest-summary")
    with gr.Accordion("Audio options: vocals, output sound, level, preview", open=False):
        separate_vocals = gr.Checkbox(
            value=False, label="Separate vocals (drive with the voice only)",
            info="removes music and noise with MDX-Net Kim_Vocal_2 so lips don't move to drums")
        with gr.Row():
            keep = gr.Radio([(v, k) for k, v in KEEP_LABELS.items()], value="mix", label="Output video's sound")
            keep_file = gr.File(label="Output sound file", type="filepath", file_types=["audio", "video"],
                                visible=False)
            normalize = gr.Radio([(v, k) for k, v in NORMALIZE_LABELS.items()], value="none",
                                 label="Normalise the driving signal")
        with gr.Row():
            prepare = gr.Button("Prepare & preview audio", scale=1)
            summary = gr.Markdown(scale=3)
        with gr.Row():
            player = gr.Audio(label="Prepared driving audio (16 kHz)", type="filepath", interactive=False)
            waveform = gr.Image(label="Waveform (shaded = silent frames)", type="numpy", interactive=False)
        with gr.Accordion("Vocal stems", open=False), gr.Row():
            stems_button = gr.Button("Separate & download stems")
            vocals_file = gr.File(label="vocals.wav", interactive=False)
            accompaniment_file = gr.File(label="accompaniment.wav", interactive=False)

    panel = AudioPanel(audio, start, end, separate_vocals, keep, keep_file, normalize, rest, rest_min_pause, speech,
                       player, waveform, summary)
    map_inputs, map_outputs = [audio, start, end, rest, rest_min_pause], [speech, rest_summary]
    audio.change(_fill_end, audio, end, api_visibility="private").then(
        run_action(speech_map), map_inputs, map_outputs, api_visibility="private")
    gr.on([start.submit, start.blur, end.submit, end.blur, rest.change, rest_min_pause.release],
          run_action(speech_map), map_inputs, map_outputs, api_visibility="private")
    keep.change(lambda k: gr.update(visible=k == "file"), keep, keep_file, api_visibility="private")
    prepare.click(run_action(preview), panel.inputs, [player, waveform, summary], api_name=f"{tab}_prepare_audio")
    root = Context.root_block
    first = root is not None and root not in _separate_registered
    if first:
        _separate_registered.add(root)
    stems_button.click(run_action(separate), [audio, start, end], [vocals_file, accompaniment_file],
                       **({"api_name": "separate"} if first else {"api_visibility": "private"}))
    return panel
