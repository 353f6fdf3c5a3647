"""Tab "Animate a photo": lays out the controls and calls core.engines.portrait through the shared job wiring.

The parameters come from ``PortraitRequest``'s declarations (``ui.params.Form``); hand-written here: the photo, the
audio panel, the emotion menu's words, the face pickers (a click on the Face crop picture) and the two previews.
"""
from __future__ import annotations

import gradio as gr

from core.audio.options import AudioOptions
from core.engines.portrait import PortraitRequest
from core.engines.portrait import preview as engine_preview
from core.engines.portrait import run as engine_run
from core.errors import BadInputError
from core.moda.motion import EMOTIONS
from ui.audio_panel import audio_panel
from ui.components import answer_unreadable, preset_panel, ui_language
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

EMOTION_CHOICES = [("None (audio only)", "none")] + [(e.capitalize(), e) for e in EMOTIONS]


def make_request(form: Form, values: dict) -> PortraitRequest:
    """The request the tab's values describe, through the same parsers and validation as the CLI."""
    image = path_of(values.get("image"))
    if not image:
        raise gr.Error("drop a portrait photo to animate", print_exception=False)
    return PortraitRequest(image=image, audio=audio_options(values), **face_fields(values),
                           **request_fields(form, values))


def build() -> Form:
    form = Form("portrait", PortraitRequest)
    with gr.Row():
        with gr.Column(scale=5):
            image = answer_unreadable(gr.Image(label="Portrait photo", type="filepath", sources=["upload", "clipboard"],
                                               height=220, elem_id="portrait-image"))
            panel = audio_panel("portrait")
            with gr.Row():
                form.add("emotion", choices=EMOTION_CHOICES, min_width=200)
                form.add("emotion_strength")
            form.add_group("main", per_row=3)
            with gr.Accordion("Advanced", open=False):
                form.add_group("advanced", exclude=SHARED, per_row=3)
                form.add_shared()
                faces = face_picker("Manual face box x1,y1,x2,y2 (skips detection)",
                                    "Face at point x,y (of several; click it on the Face crop picture)")
        with gr.Column(scale=4):
            row = action_row("Preview face crop + first frame")
            with gr.Row():
                overlay = gr.Image(label="Face crop", type="filepath", interactive=False, height=200,
                                   elem_id="portrait-crop")
                first = gr.Image(label="First frame", type="filepath", interactive=False, height=200,
                                 elem_id="portrait-first")
            result = streamed_video(label="Result", interactive=False, height=280, elem_id="portrait-result")
    found = gr.State(True)  # whether the last preview detected a face (a click picks one) or not (it starts a box)

    audio_names, audio_components = audio_inputs(panel)
    leading = ["image", *audio_names, *faces.names]
    inputs = [image, *audio_components, *faces.inputs, *form.inputs]

    def do_preview(values, request=None, progress=None):
        """Preview: the 512x512 face crop and the first frame."""
        req = make_request(form, values)
        try:
            res = run_preview("portrait", engine_preview, req, request, progress)
        except BadInputError as exc:
            if not str(exc).startswith("no face found"):
                raise
            gr.Warning(ui_language(str(exc)))  # the photo itself, to click the face on
            return req.image, None, False
        return str(res.extra["images"]["crop"]), str(res.output), True

    def do_generate(values, request=None, progress=None):
        """Animate the photo: result video and timings."""
        req = make_request(form, values)

        def done(res):
            seconds = res.extra.get("seconds") or 0.0
            rtf = [f"real-time factor {res.timings.get('total', 0.0) / seconds:.2f}"] if seconds else []
            return str(res.output), finished(res, *rtf)

        yield from stream_job("portrait", engine_run, req, request, progress, lambda line: (gr.skip(), line), done)

    wire(row, "portrait", inputs, form.handler(do_preview, leading), [overlay, first, found],
         form.handler(do_generate, leading), [result, row.status])

    def pick(photo, shown, faces_found, evt: gr.SelectData):
        """A click on the face-crop picture (drawn at the working size), in the photo's own pixels: the face
        under it, or, where no face was detected, a box around it."""
        from PIL import Image

        with Image.open(path_of(photo)) as original, Image.open(path_of(shown)) as picture:
            point, box = click_to_face(evt.index, original.size, picture.size, faces_found)
        return point, -1, box

    overlay.select(pick, [image, overlay, found], [faces.point, faces.face, faces.box], api_visibility="private")
    preset_panel("portrait", (PortraitRequest, AudioOptions), {**form.components, **panel.fields})
    return form
