"""Tab "Lip-dub a video": lays out the controls and calls core.engines.lipdub through the shared job wiring.

The parameters come from ``LipdubRequest``'s declarations (``ui.params.Form``); hand-written here: the input file
and its thumbnail, the audio panel, the face pickers (a click on the overlay), the overlay and dubbed-frame previews
with the suggested bbox_shift range.
"""
from __future__ import annotations

import uuid

import gradio as gr

from core.audio.options import AudioOptions
from core.engines.lipdub import LipdubRequest
from core.engines.lipdub import preview as engine_preview
from core.engines.lipdub import run as engine_run
from core.errors import BadInputError
from ui.audio_panel import audio_panel
from ui.components import preset_panel, ui_language
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


def make_request(form: Form, values: dict) -> LipdubRequest:
    """The request the tab's values describe, through the same parsers and validation as the CLI."""
    video = path_of(values.get("video"))
    if not video:
        raise gr.Error("drop a video or a photo to dub", print_exception=False)
    return LipdubRequest(video=video, audio=audio_options(values), **face_fields(values, "face_point"),
                         **request_fields(form, values))


def _hint(extra: dict) -> str:
    lo_hi = extra.get("bbox_range")
    text = f"Suggested bbox_shift range: **[{lo_hi[0]}, {lo_hi[1]}]**" if lo_hi else \
        "Suggested bbox_shift range: n/a (manual box)"
    if extra.get("faces") and len(extra["faces"]) > 1:
        text += f" · {len(extra['faces'])} faces found, numbered from the left; click one on the overlay to pick it"
    return text


def first_frame(video) -> str | None:
    """Frame 0 of the video (or the photo) as a PNG in the cache, for the thumbnail and the no-face preview."""
    from PIL import Image

    from core import paths
    from core.engines.lipdub.source import FrameSource

    if not path_of(video):
        return None
    frame = FrameSource(path_of(video)).frames([0])[0]
    folder = paths.cache_dir() / "frames"
    folder.mkdir(parents=True, exist_ok=True)
    picture = folder / f"{uuid.uuid4().hex[:12]}.png"
    Image.fromarray(frame).save(picture)
    return str(picture)


def _thumbnail(video) -> str | None:
    try:
        return first_frame(video)
    except BadInputError:  # no thumbnail: Preview and Generate say why, in one line
        return None


def build() -> Form:
    form = Form("lipdub", LipdubRequest)
    with gr.Row():
        with gr.Column(scale=5):
            with gr.Row(equal_height=True):
                video = gr.File(label="Video or photo to dub", type="filepath", file_types=["video", "image"],
                                height=110, scale=3, elem_id="lipdub-video")
                thumb = gr.Image(label="Frame 0", type="filepath", interactive=False, height=110, scale=1,
                                 min_width=100, show_label=False, buttons=[], elem_id="lipdub-thumb")
            panel = audio_panel("lipdub")
            with gr.Row():
                form.add_group("main")
            with gr.Accordion("Mask and face", open=False):
                form.add_group("mask", per_row=2)
                faces = face_picker("Manual box x1,y1,x2,y2 (skips detection)",
                                    "Face at point x,y (click the overlay)", point_name="face_point")
            with gr.Accordion("Advanced", open=False):
                form.add_group("advanced", exclude=SHARED, per_row=3)
                form.add_shared()
        with gr.Column(scale=4):
            row = action_row("Preview first frame")
            hint = gr.Markdown()
            with gr.Row():
                overlay = gr.Image(label="Frame 0: face and mask", type="filepath", interactive=False,
                                   height=200, elem_id="lipdub-overlay")
                dubbed = gr.Image(label="Frame 0 dubbed", type="filepath", interactive=False, height=200,
                                  elem_id="lipdub-dubbed")
            result = streamed_video(label="Result", interactive=False, height=280, elem_id="lipdub-result")
    found = gr.State(True)  # whether the last preview detected a face (a click picks one) or not (it starts a box)

    audio_names, audio_components = audio_inputs(panel)
    leading = ["video", *audio_names, *faces.names]
    inputs = [video, *audio_components, *faces.inputs, *form.inputs]

    def do_preview(values, request=None, progress=None):
        """First-frame preview: overlay, dubbed frame 0 (real audio window), suggested bbox_shift range."""
        req = make_request(form, values)
        try:
            res = run_preview("lipdub", engine_preview, req, request, progress)
        except BadInputError as exc:
            if not str(exc).startswith("no face found"):
                raise
            return first_frame(req.video), None, f"**{ui_language(str(exc))}**", False  # frame 0, to click on
        return str(res.extra["images"]["overlay"]), str(res.output), _hint(res.extra), True

    def do_generate(values, request=None, progress=None):
        """Dub the whole video: result video, timings, suggested bbox_shift range."""
        req = make_request(form, values)

        def done(res):
            return str(res.output), finished(res, *(["prepared video reused from the cache"]
                                                    if res.extra.get("cache_hit") else [])), _hint(res.extra)

        yield from stream_job("lipdub", engine_run, req, request, progress,
                              lambda line: (gr.skip(), line, gr.skip()), done)

    def pick(video, picture, faces_found, evt: gr.SelectData):
        """A click on the overlay (drawn at the working size), in the file's pixels: the face under it, or, where
        no face was detected, a box around it."""
        from PIL import Image

        from core.media import probe

        info = probe(path_of(video))
        with Image.open(picture) as shown:
            point, box = click_to_face(evt.index, (info.width, info.height), shown.size, faces_found)
        return point, -1, box

    wire(row, "lipdub", inputs, form.handler(do_preview, leading), [overlay, dubbed, hint, found],
         form.handler(do_generate, leading), [result, row.status, hint])
    video.change(_thumbnail, video, thumb, api_visibility="private")
    overlay.select(pick, [video, overlay, found], [faces.point, faces.face, faces.box], api_visibility="private")
    preset_panel("lipdub", (LipdubRequest, AudioOptions), {**form.components, **panel.fields})
    return form
