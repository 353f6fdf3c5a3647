"""Tab "Animate a photo": lays out the controls and calls core.engines.portrait through the shared job wiring."""
from __future__ import annotations

import gradio as gr

from core.audio.options import AudioOptions
from core.engines.portrait import PortraitRequest
from core.engines.portrait import preview as engine_preview
from core.engines.portrait import run as engine_run
from core.moda.motion import EMOTIONS
from core.errors import BadInputError
from core.request import parse_box, parse_point
from ui.audio_panel import audio_panel, options_from_values
from ui.components import SETTINGS, answer_unreadable, preset_panel, ui_language
from ui.jobs import action_row, run_preview, stream_job, streamed_video, wire

EMOTION_CHOICES = [("None (audio only)", "none")] + [(e.capitalize(), e) for e in EMOTIONS]


def _path(value) -> str | None:
    if value in (None, ""):
        return None
    return str(getattr(value, "name", value))


def make_request(image, audio_values, emotion, cfg_scale, steps, seed, smoothing, head_motion, crop_scale,
                 pasteback, face, box, max_side, batch, crf, device, dtype, emotion_strength=0.0,
                 point=None) -> PortraitRequest:
    """The request the tab's values describe, through the same parsers and validation as the CLI."""
    audio = options_from_values(*audio_values)
    if not _path(image):
        raise gr.Error("drop a portrait photo to animate", print_exception=False)
    return PortraitRequest(
        image=_path(image), audio=audio, emotion=emotion or "none", emotion_strength=float(emotion_strength or 0),
        cfg_scale=float(cfg_scale), steps=int(steps),
        seed=int(seed or 0), smoothing=int(smoothing), head_motion=float(head_motion), crop_scale=float(crop_scale),
        pasteback=bool(pasteback),
        face=int(face) if face not in (None, "") and int(face) >= 0 and not (box or point) else None,
        box=parse_box(box) if box else None, point=parse_point(point) if point and not box else None,
        max_side=int(max_side or 0), render_batch=int(batch), crf=int(crf),
        **SETTINGS.request_fields(device, dtype))


def build() -> None:
    with gr.Row():
        with gr.Column(scale=5):
            image = answer_unreadable(gr.Image(label="Portrait photo", type="filepath", sources=["upload", "clipboard"],
                                               height=220, elem_id="portrait-image"))
            panel = audio_panel("portrait")
            with gr.Row():
                emotion = gr.Dropdown(EMOTION_CHOICES, value="none", label="Emotion")
                emotion_strength = gr.Slider(0, 10, value=0, step=0.1, label="Emotion strength",
                                             info="extra pull towards the emotion; 0 = MoDA's own")
                head_motion = gr.Slider(0, 2, value=1.0, step=0.05, label="Head motion",
                                        info="0 = still head, 1 = as generated")
                cfg_scale = gr.Slider(1.0, 3.0, value=1.2, step=0.05, label="Audio guidance (CFG)")
            with gr.Accordion("Advanced", open=False):
                with gr.Row():
                    steps = gr.Slider(2, 50, value=10, step=1, label="Sampling steps")
                    seed = gr.Number(value=0, precision=0, label="Seed")
                    smoothing = gr.Slider(1, 15, value=3, step=2, label="Head-pose smoothing (frames)")
                with gr.Row():
                    crop_scale = gr.Slider(1.8, 3.2, value=2.3, step=0.05, label="Crop scale")
                    pasteback = gr.Checkbox(value=True, label="Paste back into the photo (off: 512x512 crop)")
                    max_side = gr.Number(value=PortraitRequest.max_side, precision=0,
                                         label="Max photo side (px, 0 = keep size)")
                with gr.Row():
                    face = gr.Number(value=-1, precision=0, label="Face number from the left (-1 = largest)")
                    box = gr.Textbox(label="Manual face box x1,y1,x2,y2 (skips detection)", placeholder="x1,y1,x2,y2")
                    point = gr.Textbox(label="Face at point x,y (of several; click it on the Face crop picture)",
                                       placeholder="e.g. 230,130")
                with gr.Row():
                    batch = gr.Slider(0, 128, value=0, step=1, label="Render batch (0 = auto)")
                    crf = gr.Slider(0, 35, value=18, step=1, label="Quality (CRF, lower = better)")
                    device = gr.Dropdown(["auto", "cpu", "cuda"], value="auto", label="Device")
                    dtype = gr.Dropdown(["auto", "fp32", "fp16", "bf16"], value="auto", label="Precision")
        with gr.Column(scale=4):
            row = action_row()
            with gr.Row():
                overlay = gr.Image(label="Face crop", type="filepath", interactive=False, height=200,
                                   elem_id="portrait-crop")
                first = gr.Image(label="First frame", type="filepath", interactive=False, height=200,
                                 elem_id="portrait-first")
            result = streamed_video(label="Result", interactive=False, height=280, elem_id="portrait-result")

    controls = [emotion, cfg_scale, steps, seed, smoothing, head_motion, crop_scale, pasteback, face, box, max_side,
                batch, crf, device, dtype, emotion_strength, point]
    inputs = [image, *panel.inputs, *controls]

    # Named parameters (not *values) so the API endpoints document each input by name and accept keywords. The None
    # defaults only tell Gradio that inputs without a starting value (end, keep_file, box) are optional for API
    # clients; every other input's default is its component's value.
    def do_preview(image, audio, start, end=None, separate_vocals=None, keep_audio=None, keep_file=None,
                   normalize=None, rest=None, rest_min_pause=None,
                   emotion=None, cfg_scale=None, steps=None, seed=None, smoothing=None,
                   head_motion=None, crop_scale=None, pasteback=None, face=None, box=None, max_side=None,
                   render_batch=None, crf=None, device=None, dtype=None, emotion_strength=None, point=None,
                   request: gr.Request = None, progress=gr.Progress()):  # noqa: B008 - Gradio injects these
        """Preview: the 512x512 face crop and the first frame."""
        req = make_request(image, [audio, start, end, separate_vocals, keep_audio, keep_file, normalize, rest,
                            rest_min_pause], emotion,
                           cfg_scale, steps, seed, smoothing, head_motion, crop_scale, pasteback, face, box, max_side,
                           render_batch, crf, device, dtype, emotion_strength, point)
        try:
            res = run_preview("portrait", engine_preview, req, request, progress)
        except BadInputError as exc:
            if not str(exc).startswith("no face found"):
                raise
            gr.Warning(ui_language(str(exc)))  # the photo itself, to read the face box's corners from
            return req.image, None
        return str(res.extra["images"]["crop"]), str(res.output)

    def do_generate(image, audio, start, end=None, separate_vocals=None, keep_audio=None, keep_file=None,
                    normalize=None, rest=None, rest_min_pause=None,
                    emotion=None, cfg_scale=None, steps=None, seed=None, smoothing=None,
                    head_motion=None, crop_scale=None, pasteback=None, face=None, box=None, max_side=None,
                    render_batch=None, crf=None, device=None, dtype=None, emotion_strength=None, point=None,
                    request: gr.Request = None, progress=gr.Progress()):  # noqa: B008
        """Animate the photo: result video and timings."""
        req = make_request(image, [audio, start, end, separate_vocals, keep_audio, keep_file, normalize, rest,
                            rest_min_pause], emotion,
                           cfg_scale, steps, seed, smoothing, head_motion, crop_scale, pasteback, face, box, max_side,
                           render_batch, crf, device, dtype, emotion_strength, point)

        def done(res):
            seconds = res.extra.get("seconds") or 0.0
            rtf = f" · real-time factor {res.timings.get('total', 0.0) / seconds:.2f}" if seconds else ""
            return str(res.output), res.summary() + rtf

        yield from stream_job("portrait", engine_run, req, request, progress, lambda line: (gr.skip(), line), done)

    wire(row, "portrait", inputs, do_preview, [overlay, first], do_generate, [result, row.status])

    def pick_point(photo, shown, evt: gr.SelectData):
        """A click on the face-crop picture (drawn at the working size) as a point in the photo's own pixels."""
        from PIL import Image

        scale = Image.open(_path(photo)).width / Image.open(_path(shown)).width if photo and shown else 1.0
        return f"{round(evt.index[0] * scale)},{round(evt.index[1] * scale)}", -1, ""

    overlay.select(pick_point, [image, overlay], [point, face, box], api_visibility="private")
    fields = {"emotion": emotion, "emotion_strength": emotion_strength, "cfg_scale": cfg_scale, "steps": steps,
              "seed": seed, "smoothing": smoothing, "head_motion": head_motion, "crop_scale": crop_scale,
              "pasteback": pasteback,
              "render_batch": batch, "crf": crf}
    preset_panel("portrait", (PortraitRequest, AudioOptions), {**fields, **panel.fields})
