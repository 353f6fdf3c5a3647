"""Tab "Expression control": photo or video in, optional audio, emotion timeline, grouped face-edit sliders,
keyframes, transfer from a photo, live preview on slider release, Generate, Stop.

API names: `expression` (Generate) and `expression_preview` (live preview: the source face re-rendered with the
edits); presets save and load the whole tab as a request (`expression_save_preset` / `expression_load_preset`).
"""
from __future__ import annotations

import inspect
import math
from typing import Any

import gradio as gr

from core.engines.expression import pipeline, spec
from core.engines.expression.request import ExpressionRequest
from core.moda.motion import EMOTIONS, OVERLAP
from core.moda.timeline import Timeline
from core.liveportrait.expression import GROUPS, SLIDERS, TRANSFER_PARTS
from core.request import parse_box
from ui import presets
from ui.audio_panel import audio_panel, options_from_values
from ui.components import SETTINGS, run_action
from ui.jobs import action_row, run_preview, stream_job, streamed_video, wire

TAB = "expression"
EMOTION_CHOICES = ["none", *EMOTIONS]
TIMELINE_HEADERS = ["start", "end", "emotion", "strength"]
KEYFRAME_HEADERS = ["time", "easing", "edits"]
# Order of the non-slider controls in the handlers' inputs (after the photo/video/audio panel and the sliders).
CONTROLS = ("timeline", "crossfade", "keyframes", "blink_rate", "source_ratio", "eyes_open_ratio", "lip_open_ratio",
            "transfer_image", "transfer_parts", "transfer_ratio", "head_motion", "cfg_scale", "steps", "seed",
            "smoothing", "crop_scale", "face", "box", "render_batch", "crf", "device", "dtype")


def _path(value) -> str | None:
    if value in (None, ""):
        return None
    return str(getattr(value, "name", value))


def _rows(table) -> list[list]:
    """Dataframe value (pandas frame, dict or list of lists) -> rows without the empty ones."""
    if table is None:
        return []
    if hasattr(table, "values") and hasattr(table, "columns"):
        rows = table.values.tolist()
    elif isinstance(table, dict):
        rows = table.get("data") or []
    else:
        rows = list(table)
    return [[None if _blank(v) else v for v in r] for r in rows if not all(_blank(v) for v in r)]


def _blank(value) -> bool:
    """An empty table cell: None, "", or the NaN pandas puts in empty number cells."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def timeline_rows(table) -> list[dict]:
    """Table rows (start, end, emotion, strength) -> request rows."""
    out = []
    for r in _rows(table):
        start, end, emotion, strength = (list(r) + [None] * 4)[:4]
        out.append({"start": float(start), "end": float(end), "emotion": str(emotion or "none"),
                    "strength": float(strength or 0.0)})
    return out


def keyframe_rows(table) -> list[dict]:
    """Table rows (time, easing, "smile=0.6,yaw=10") -> request rows {time, easing, slider: value...}."""
    out = []
    for r in _rows(table):
        time, easing, edits = (list(r) + [None] * 3)[:3]
        out.append({"time": float(time), "easing": str(easing or "linear"), **spec.parse_edits(str(edits or ""))})
    return out


def _table_from_keyframes(rows: list[dict]) -> list[list]:
    return [[r["time"], r.get("easing", "linear"),
             ",".join(f"{k}={v:g}" for k, v in r.items() if k not in ("time", "easing"))] for r in rows]


def make_request(media: str, image, video, audio_values: list, slider_values: list, controls: dict[str, Any]
                 ) -> ExpressionRequest:
    """The request the tab's values describe (same parsing and validation as the CLI)."""
    image, video = _path(image), _path(video)
    source = {"image": image} if media == "Photo" else {"video": video}
    if not next(iter(source.values())):
        raise gr.Error(f"drop a {media.lower()} to edit", print_exception=False)
    audio = options_from_values(*audio_values) if media == "Photo" and _path(audio_values[0]) else None
    c = controls
    face = c["face"]
    box = c["box"] or None
    return ExpressionRequest(
        **source, audio=audio,
        edits={s.name: float(v) for s, v in zip(SLIDERS, slider_values) if v not in (None, "") and float(v) != 0},
        timeline=timeline_rows(c["timeline"]), crossfade=int(c["crossfade"]), keyframes=keyframe_rows(c["keyframes"]),
        blink_rate=float(c["blink_rate"] or 0), source_ratio=float(c["source_ratio"]),
        eyes_open_ratio=None if c["eyes_open_ratio"] in (None, "") else float(c["eyes_open_ratio"]),
        lip_open_ratio=None if c["lip_open_ratio"] in (None, "") else float(c["lip_open_ratio"]),
        transfer_image=_path(c["transfer_image"]), transfer_parts=c["transfer_parts"],
        transfer_ratio=float(c["transfer_ratio"]), head_motion=float(c["head_motion"]),
        cfg_scale=float(c["cfg_scale"]), steps=int(c["steps"]), seed=int(c["seed"] or 0),
        smoothing=int(c["smoothing"]), crop_scale=float(c["crop_scale"]),
        face=int(face) if face not in (None, "") and int(face) >= 0 and not box else None,
        box=parse_box(box) if box else None, render_batch=int(c["render_batch"]), crf=int(c["crf"]),
        **SETTINGS.request_fields(c["device"], c["dtype"]))


def build() -> None:
    sliders: list[gr.Slider] = []
    with gr.Row():
        with gr.Column(scale=5):
            media = gr.Radio(["Photo", "Video"], value="Photo", label="Edit a")
            with gr.Row():
                image = gr.Image(label="Photo", type="filepath", sources=["upload", "clipboard"], height=220,
                                 elem_id="expression-image")
                video = gr.Video(label="Video (its sound is kept)", sources=["upload"], height=220,
                                 elem_id="expression-video")
            panel = audio_panel(TAB, label="Driving audio (optional, photo only: animates it)")
            with gr.Accordion("Emotion timeline (photo + audio)", open=False):
                timeline = gr.Dataframe(headers=TIMELINE_HEADERS, datatype=["number", "number", "str", "number"],
                                        value=None, row_count=(1, "dynamic"),
                                        column_count=(4, "fixed"),
                                        label=f"Segments (emotion: {', '.join(EMOTION_CHOICES)})")
                crossfade = gr.Slider(1, OVERLAP, value=OVERLAP, step=1, label="Crossfade between emotions (frames)")
            for group in GROUPS:
                with gr.Accordion(f"{group.capitalize()}", open=group == "mouth"), gr.Row():
                    for s in (s for s in SLIDERS if s.group == group):
                        sliders.append(gr.Slider(s.lo, s.hi, value=0, step=s.step, label=s.label,
                                                 min_width=160))
            with gr.Accordion("Retargeting, blink, transfer", open=False):
                with gr.Row():
                    eyes_ratio = gr.Number(value=None, label="Target eyes-open ratio (0..0.8, empty = off)")
                    lip_ratio = gr.Number(value=None, label="Target lip-open ratio (0..0.8, empty = off)")
                    blink_rate = gr.Slider(0, 40, value=0, step=1, label="Auto blinks per minute (0 = off)")
                    source_ratio = gr.Slider(0, 1, value=1, step=0.01, label="Keep source expression")
                with gr.Row():
                    transfer_image = gr.Image(label="Transfer from photo", type="filepath", height=160)
                    transfer_parts = gr.Dropdown(list(TRANSFER_PARTS), value="expression", label="Copy")
                    transfer_ratio = gr.Slider(-0.2, 1.2, value=1.0, step=0.01, label="Transfer ratio")
            with gr.Accordion("Keyframes", open=False):
                keyframes = gr.Dataframe(headers=KEYFRAME_HEADERS, datatype=["number", "str", "str"],
                                         row_count=(1, "dynamic"), column_count=(3, "fixed"),
                                         label="time (s) · easing (linear, ease-in-out, hold) · edits "
                                               "(e.g. smile=0.6,yaw=10)")
            with gr.Accordion("Advanced", open=False):
                with gr.Row():
                    head_motion = gr.Slider(0, 2, value=1.0, step=0.05, label="Head motion (photo + audio)")
                    cfg_scale = gr.Slider(1.0, 3.0, value=1.2, step=0.05, label="Audio guidance (CFG)")
                    steps = gr.Slider(2, 50, value=10, step=1, label="Sampling steps")
                    seed = gr.Number(value=0, precision=0, label="Seed")
                with gr.Row():
                    smoothing = gr.Slider(1, 15, value=3, step=2, label="Motion smoothing (frames)")
                    crop_scale = gr.Slider(1.8, 3.2, value=2.3, step=0.05, label="Crop scale")
                    face = gr.Number(value=-1, precision=0, label="Face number from the left (-1 = largest)")
                    box = gr.Textbox(label="Manual face box x1,y1,x2,y2", placeholder="x1,y1,x2,y2")
                with gr.Row():
                    batch = gr.Slider(0, 128, value=0, step=1, label="Render batch (0 = auto)")
                    crf = gr.Slider(0, 35, value=18, step=1, label="Quality (CRF)")
                    device = gr.Dropdown(["auto", "cpu", "cuda"], value="auto", label="Device")
                    dtype = gr.Dropdown(["auto", "fp32", "fp16", "bf16"], value="auto", label="Precision")
        with gr.Column(scale=4):
            row = action_row("Live preview")
            live = gr.Image(label="Live preview (face crop, render only)", type="filepath", interactive=False,
                            height=280, elem_id="expression-live")
            with gr.Row():  # side by side: the preview and either result fit one 1400x900 screen with the buttons
                result_image = gr.Image(label="Edited photo", type="filepath", interactive=False, height=280,
                                        elem_id="expression-photo")
                result_video = streamed_video(label="Result video", interactive=False, height=280,
                                        elem_id="expression-result")

    controls = [timeline, crossfade, keyframes, blink_rate, source_ratio, eyes_ratio, lip_ratio, transfer_image,
                transfer_parts, transfer_ratio, head_motion, cfg_scale, steps, seed, smoothing, crop_scale, face,
                box, batch, crf, device, dtype]
    inputs = [media, image, video, *panel.inputs, *sliders, *controls]
    n_audio, n_sliders = len(panel.inputs), len(sliders)

    def request_from(values) -> ExpressionRequest:
        media_v, image_v, video_v = values[:3]
        audio_v = list(values[3:3 + n_audio])
        slider_v = list(values[3 + n_audio:3 + n_audio + n_sliders])
        control_v = dict(zip(CONTROLS, values[3 + n_audio + n_sliders:]))
        return make_request(media_v, image_v, video_v, audio_v, slider_v, control_v)

    names = ["media", "image", "video", "audio", "start", "end", "separate_vocals", "keep_audio", "keep_file",
             "normalize", "rest", "rest_min_pause", *(s.name for s in SLIDERS), *CONTROLS]

    @_named(names)
    def do_preview(*args):
        """Live preview: the source face re-rendered with the current edits (no motion generation)."""
        *values, request, progress = args
        res = run_preview(TAB, pipeline.preview, request_from(values), request, progress)
        return str(res.output)

    @_named(names)
    def do_generate(*args):
        """Edited photo (PNG), or the talking / edited video, and the timings."""
        *values, request, progress = args
        req = request_from(values)

        def done(res):
            out = str(res.output)
            if out.endswith(".png"):
                return out, None, res.summary()
            return None, out, res.summary()

        yield from stream_job(TAB, pipeline.run, req, request, progress,
                              lambda line: (gr.skip(), gr.skip(), line), done)

    wire(row, TAB, inputs, do_preview, [live], do_generate, [result_image, result_video, row.status])
    for s in sliders:  # live preview when a slider is released
        s.release(run_action(do_preview), inputs, [live], api_visibility="private", trigger_mode="always_last")
    _preset_panel(inputs, request_from, sliders, controls)


def _named(names: list[str]):
    """Give a `*args` handler one named, optional parameter per input (API docs and keyword calls, as the other
    tabs' handlers have), then Gradio's injected request and progress, which arrive as the last two arguments."""
    def decorate(fn):
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = [inspect.Parameter(n, kind, default=None) for n in names]
        params += [inspect.Parameter("request", kind, default=None, annotation=gr.Request),
                   inspect.Parameter("progress", kind, default=gr.Progress())]
        fn.__signature__ = inspect.Signature(params)
        fn.__annotations__ = {"request": gr.Request}
        return fn
    return decorate


def _preset_panel(inputs: list, request_from, sliders: list, controls: list) -> None:
    """Save the tab as an ExpressionRequest preset (edits, keyframes, timeline as rows); load puts them back."""
    with gr.Accordion("Presets", open=False), gr.Row():
        choice = gr.Dropdown(presets.list_presets(TAB), value=None, label="Preset name", allow_custom_value=True,
                             scale=3)
        load = gr.Button("Load preset", scale=1)
        save = gr.Button("Save preset", scale=1)
    skip = {"image", "video", "audio", "transfer_image", "output", "device", "dtype", "checkpoints", "face", "box",
            "point"}

    def save_fn(name: str, *values):
        req = request_from(values)
        data = {k: v for k, v in vars(req).items() if k not in skip}
        path = presets.save_preset(TAB, name, data, ExpressionRequest)
        gr.Info(f"saved {path.name}")
        return gr.update(choices=presets.list_presets(TAB), value=path.stem)

    def load_fn(name: str):
        data = presets.load_preset(TAB, name, ExpressionRequest)
        edits = spec.parse_edits(data.get("edits") or {})
        slider_updates = [edits.get(s.name, 0.0) for s in SLIDERS]
        control_updates = []
        for name_ in CONTROLS:
            if name_ == "timeline" and "timeline" in data:
                rows = Timeline.from_data(data["timeline"]).segments
                control_updates.append([[s.start, s.end, s.emotion, s.strength] for s in rows])
            elif name_ == "keyframes" and "keyframes" in data:
                control_updates.append(_table_from_keyframes(data["keyframes"] or []))
            elif name_ in data:
                control_updates.append(data[name_])
            else:
                control_updates.append(gr.skip())
        return [*slider_updates, *control_updates]

    save.click(run_action(save_fn), [choice, *inputs], choice, api_name=f"{TAB}_save_preset")
    load.click(run_action(load_fn), choice, [*sliders, *controls], api_name=f"{TAB}_load_preset")
