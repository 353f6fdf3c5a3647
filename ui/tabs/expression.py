"""Tab "Expression control": photo or video in, optional audio, emotion timeline, grouped face-edit sliders,
keyframes, transfer from a photo, live preview on slider release, Generate, Stop.

API names: `expression` (Generate) and `expression_preview` (live preview: the source face re-rendered with the
edits); presets save and load the whole tab as a request (`expression_save_preset` / `expression_load_preset`).

The parameters come from ``ExpressionRequest``'s declarations (``ui.params.Form``); hand-written here: the photo /
video choice, the audio panel (photo only), the face-edit sliders (``core.liveportrait.expression.SLIDERS``: the
request's ``edits`` mapping), the timeline and keyframe tables (lists of rows), the transfer photo, the face
pickers, and the preset panel, which saves those structured fields too.
"""
from __future__ import annotations

import math

import gradio as gr

from core.engines.expression import pipeline, spec
from core.engines.expression.request import ExpressionRequest
from core.errors import BadInputError
from core.liveportrait.expression import GROUPS, SLIDERS
from core.moda.motion import EMOTIONS
from core.moda.timeline import Timeline
from ui import presets
from ui.audio_panel import audio_panel
from ui.components import answer_unreadable, run_action, ui_language
from ui.jobs import action_row, run_preview, stream_job, streamed_video, wire
from ui.params import SHARED, Form
from ui.tabparts import (
    audio_inputs,
    audio_options,
    click_to_face,
    face_fields,
    face_picker,
    finished,
    path_of,
    request_fields,
)

TAB = "expression"
EMOTION_CHOICES = ["none", *EMOTIONS]
TIMELINE_HEADERS = ["start", "end", "emotion", "strength"]
KEYFRAME_HEADERS = ["time", "easing", "edits"]
TABLES = ("timeline", "keyframes")


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


def centred_css() -> str:
    """Edit sliders whose range spans 0 fill from 0 to the value, not from the left end (Gradio's track is a
    gradient from the left; here it is coloured between 0 and the thumb)."""
    rules = []
    for s in SLIDERS:
        if s.lo < 0 < s.hi:
            zero, at = f"{100 * -s.lo / (s.hi - s.lo):.2f}%", "var(--range_progress)"
            lo, hi = f"min({zero}, {at})", f"max({zero}, {at})"
            rules.append(f"#{TAB}-edit-{s.name} input[type=range]::-webkit-slider-runnable-track {{ background: "
                         f"linear-gradient(to right, var(--neutral-200) {lo}, var(--slider-color) {lo}, "
                         f"var(--slider-color) {hi}, var(--neutral-200) {hi}); }}")
    return "\n".join(rules)


def make_request(form: Form, values: dict) -> ExpressionRequest:
    """The request the tab's values describe (same parsing and validation as the CLI)."""
    media = values.get("media") or "Photo"
    source = {"image": path_of(values.get("image"))} if media == "Photo" else {"video": path_of(values.get("video"))}
    if not next(iter(source.values())):
        raise gr.Error(f"drop a {media.lower()} to edit", print_exception=False)
    audio = audio_options(values) if media == "Photo" and path_of(values.get("audio")) else None
    edits = {s.name: float(values[s.name]) for s in SLIDERS
             if values.get(s.name) not in (None, "") and float(values[s.name]) != 0}
    return ExpressionRequest(**source, audio=audio, edits=edits, timeline=timeline_rows(values.get("timeline")),
                             keyframes=keyframe_rows(values.get("keyframes")),
                             transfer_image=path_of(values.get("transfer_image")), **face_fields(values),
                             **request_fields(form, values))


def build() -> Form:
    form = Form(TAB, ExpressionRequest)
    sliders: list[gr.Slider] = []
    with gr.Row():
        with gr.Column(scale=5):
            media = gr.Radio(["Photo", "Video"], value="Photo", label="Edit a")
            image = answer_unreadable(gr.Image(label="Photo", type="filepath", sources=["upload", "clipboard"],
                                               height=220, elem_id="expression-image"))
            video = gr.Video(label="Video (its sound is kept)", sources=["upload"], height=220, visible=False,
                             elem_id="expression-video")
            with gr.Column() as photo_only:
                panel = audio_panel(TAB, label="Driving audio, optional")
                with gr.Accordion("Emotion timeline (photo + audio)", open=False):
                    timeline = gr.Dataframe(headers=TIMELINE_HEADERS, datatype=["number", "number", "str", "number"],
                                            value=None, row_count=(1, "dynamic"), column_count=(4, "fixed"),
                                            label=f"Segments (emotion: {', '.join(EMOTION_CHOICES)})")
                    form.add("crossfade")
            for group in GROUPS:
                with gr.Accordion(f"{group.capitalize()}", open=group == "mouth"), gr.Row():
                    for s in (s for s in SLIDERS if s.group == group):
                        sliders.append(gr.Slider(s.lo, s.hi, value=0, step=s.step, label=s.label, min_width=160,
                                                 elem_id=f"{TAB}-edit-{s.name}"))
            gr.HTML(f"<style>{centred_css()}</style>", container=False, padding=False)
            with gr.Accordion("Retargeting, blink, transfer", open=False):
                with gr.Row():
                    form.add("eyes_open_ratio", "lip_open_ratio", "blink_rate", "source_ratio")
                with gr.Row():
                    transfer_image = answer_unreadable(gr.Image(label="Transfer from photo", type="filepath",
                                                                height=160))
                    form.add("transfer_parts", "transfer_ratio")
            with gr.Accordion("Keyframes", open=False):
                keyframes = gr.Dataframe(headers=KEYFRAME_HEADERS, datatype=["number", "str", "str"],
                                         row_count=(1, "dynamic"), column_count=(3, "fixed"),
                                         label="time (s) · easing (linear, ease-in-out, hold) · edits "
                                               "(e.g. smile=0.6,yaw=10)")
            with gr.Accordion("Advanced", open=False):
                with gr.Row():
                    form.add("head_motion")
                form.add_group("advanced", exclude=SHARED, per_row=3)
                form.add_shared()
                faces = face_picker("Manual face box x1,y1,x2,y2")
        with gr.Column(scale=4):
            row = action_row("Preview edits (face crop)")
            live = gr.Image(label="Live preview (face crop, render only)", type="filepath", interactive=False,
                            height=280, elem_id="expression-live")
            with gr.Row():  # side by side: the preview and either result fit one 1400x900 screen with the buttons
                result_image = gr.Image(label="Edited photo", type="filepath", interactive=False, height=280,
                                        elem_id="expression-photo")
                result_video = streamed_video(label="Result video", interactive=False, height=280,
                                        elem_id="expression-result")

    audio_names, audio_components = audio_inputs(panel)
    leading = ["media", "image", "video", *audio_names, *(s.name for s in SLIDERS), *TABLES, "transfer_image",
               *faces.names]
    inputs = [media, image, video, *audio_components, *sliders, timeline, keyframes, transfer_image, *faces.inputs,
              *form.inputs]

    def do_preview(values, request=None, progress=None):
        """Live preview: the source face re-rendered with the current edits (no motion generation)."""
        req = make_request(form, values)
        try:
            res = run_preview(TAB, pipeline.preview, req, request, progress)
        except BadInputError as exc:
            if not (str(exc).startswith("no face found") and req.image):
                raise
            gr.Warning(ui_language(str(exc)))  # the photo itself, to click the face on
            return req.image, False
        return str(res.output), True

    def do_generate(values, request=None, progress=None):
        """Edited photo (PNG), or the talking / edited video, and the timings."""
        req = make_request(form, values)

        def done(res):
            out = str(res.output)
            if out.endswith(".png"):
                return out, None, finished(res)
            return None, out, finished(res)

        yield from stream_job(TAB, pipeline.run, req, request, progress,
                              lambda line: (gr.skip(), gr.skip(), line), done)

    found = gr.State(True)  # whether the last preview detected a face (a click picks one) or not (it starts a box)
    preview_fn = form.handler(do_preview, leading)
    wire(row, TAB, inputs, preview_fn, [live, found], form.handler(do_generate, leading),
         [result_image, result_video, row.status])
    for s in sliders:  # live preview when a slider is released
        s.release(run_action(preview_fn), inputs, [live, found], api_visibility="private", trigger_mode="always_last")

    def pick(photo, shown, faces_found, evt: gr.SelectData):
        """Where no face was detected, a click on the photo shown in the preview starts a box around it."""
        from PIL import Image

        if faces_found:
            return gr.skip(), gr.skip()
        with Image.open(path_of(photo)) as original, Image.open(path_of(shown)) as picture:
            _, box = click_to_face(evt.index, original.size, picture.size, False)
        return -1, box

    live.select(pick, [image, live, found], [faces.face, faces.box], api_visibility="private")
    media.change(lambda m: (gr.update(visible=m == "Photo"), gr.update(visible=m == "Video"),
                            gr.update(visible=m == "Photo")), media, [image, video, photo_only],
                 api_visibility="private")
    _preset_panel(form, inputs, leading, sliders, [timeline, keyframes])
    return form


def _preset_panel(form: Form, inputs: list, leading: list[str], sliders: list, tables: list) -> None:
    """Save the tab as an ExpressionRequest preset (edits, keyframes, timeline as rows); load puts them back."""
    with gr.Accordion("Presets", open=False), gr.Row():
        choice = gr.Dropdown(presets.list_presets(TAB), value=None, label="Preset name", allow_custom_value=True,
                             scale=3)
        load = gr.Button("Load preset", scale=1)
        save = gr.Button("Save preset", scale=1)
    skip = {"image", "video", "audio", "transfer_image", "output", "device", "dtype", "checkpoints", "face", "box",
            "point"}
    names = [*leading, *form.names]

    def save_fn(name: str, *values):
        req = make_request(form, dict(zip(names, values)))
        data = {k: v for k, v in vars(req).items() if k not in skip}
        path = presets.save_preset(TAB, name, data, ExpressionRequest)
        gr.Info(f"saved {path.name}")
        return gr.update(choices=presets.list_presets(TAB), value=path.stem)

    def load_fn(name: str):
        data = presets.load_preset(TAB, name, ExpressionRequest)
        edits = spec.parse_edits(data.get("edits") or {})
        timeline = gr.skip()
        if "timeline" in data:
            timeline = [[s.start, s.end, s.emotion, s.strength] for s in Timeline.from_data(data["timeline"]).segments]
        keyframes = _table_from_keyframes(data["keyframes"] or []) if "keyframes" in data else gr.skip()
        fields = [data[n] if n in data else gr.skip() for n in form.names]
        return [*(edits.get(s.name, 0.0) for s in SLIDERS), timeline, keyframes, *fields]

    save.click(run_action(save_fn), [choice, *inputs], choice, api_name=f"{TAB}_save_preset")
    load.click(run_action(load_fn), choice, [*sliders, *tables, *form.inputs], api_name=f"{TAB}_load_preset")
