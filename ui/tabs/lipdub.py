"""Tab "Lip-dub a video": lays out the controls and calls core.engines.lipdub through the shared job wiring."""
from __future__ import annotations

import uuid

import gradio as gr

from core.audio.options import AudioOptions
from core.engines.lipdub import LipdubRequest
from core.engines.lipdub import preview as engine_preview
from core.engines.lipdub import run as engine_run
from core.errors import BadInputError
from core.request import parse_box, parse_point
from ui.audio_panel import audio_panel, options_from_values
from ui.components import SETTINGS, preset_panel, ui_language
from ui.jobs import action_row, run_preview, stream_job, streamed_video, wire


def _path(value) -> str | None:
    if value in (None, ""):
        return None
    return str(getattr(value, "name", value))


def make_request(video, audio_values, version, bbox_shift, extra_margin, parsing, left, right, batch, seed, face,
                 point, box, smooth, crf, use_cache, device, dtype,
                 max_side=LipdubRequest.max_side) -> LipdubRequest:
    """The request the tab's values describe, through the same parsers and validation as the CLI."""
    audio = options_from_values(*audio_values)
    if not _path(video):
        raise gr.Error("drop a video or a photo to dub", print_exception=False)
    return LipdubRequest(
        video=_path(video), audio=audio, version=version, bbox_shift=int(bbox_shift or 0),
        extra_margin=int(extra_margin), parsing_mode=parsing, left_cheek_width=int(left), right_cheek_width=int(right),
        batch_size=int(batch), seed=int(seed or 0),
        face=int(face) if face not in (None, "") and int(face) >= 0 and not (point or box) else None,
        point=parse_point(point) if point and not box else None, box=parse_box(box) if box else None,
        smooth=bool(smooth), crf=int(crf), use_cache=bool(use_cache),
        max_side=int(LipdubRequest.max_side if max_side is None else max_side),
        **SETTINGS.request_fields(device, dtype))


def _hint(extra: dict) -> str:
    lo_hi = extra.get("bbox_range")
    text = f"Suggested bbox_shift range: **[{lo_hi[0]}, {lo_hi[1]}]**" if lo_hi else \
        "Suggested bbox_shift range: n/a (manual box)"
    if extra.get("faces") and len(extra["faces"]) > 1:
        text += f" · {len(extra['faces'])} faces found, numbered from the left; click one on the overlay to pick it"
    return text


def _in_file_pixels(xy, video, picture) -> tuple[int, int]:
    """A pixel of the overlay ``picture`` (drawn at the working size) as a pixel of the ``video`` file's frame."""
    from PIL import Image

    from core.media import probe

    with Image.open(picture) as shown:
        scale = probe(_path(video)).width / shown.width if picture and _path(video) else 1.0
    return round(xy[0] * scale), round(xy[1] * scale)


def _no_face(video: str, exc: BadInputError) -> tuple[str, None, str]:
    """No face in frame 0: show the frame itself, so the creator can click the face (or draw a box)."""
    from PIL import Image

    from core import paths
    from core.engines.lipdub.source import FrameSource

    frame = FrameSource(video).frames([0])[0]
    folder = paths.cache_dir() / "no-face"
    folder.mkdir(parents=True, exist_ok=True)
    picture = folder / f"{uuid.uuid4().hex[:12]}.png"
    Image.fromarray(frame).save(picture)
    return str(picture), None, f"**{ui_language(str(exc))}**"


def build() -> None:
    with gr.Row():
        with gr.Column(scale=5):
            video = gr.File(label="Video or photo to dub", type="filepath", file_types=["video", "image"], height=110,
                            elem_id="lipdub-video")
            panel = audio_panel("lipdub")
            with gr.Row():
                version = gr.Radio([("MuseTalk 1.5", "v15"), ("MuseTalk 1.0", "v1")], value="v15", label="Model")
                bbox_shift = gr.Number(value=0, precision=0, label="bbox_shift (px)",
                                       info="+ moves the mask's top edge down (mouth opens more)")
            with gr.Accordion("Mask and face", open=False):
                with gr.Row():
                    extra_margin = gr.Slider(0, 40, value=10, step=1, label="Extra margin below the chin (v1.5)")
                    parsing = gr.Radio(["jaw", "raw"], value="jaw", label="Blend mask (v1.5)")
                with gr.Row():
                    left = gr.Slider(20, 160, value=90, step=5, label="Left cheek width")
                    right = gr.Slider(20, 160, value=90, step=5, label="Right cheek width")
                with gr.Row():
                    face = gr.Number(value=-1, precision=0, label="Face number from the left (-1 = largest)")
                    point = gr.Textbox(label="Face at point x,y (click the overlay)", placeholder="e.g. 320,180")
                    box = gr.Textbox(label="Manual box x1,y1,x2,y2 (skips detection)", placeholder="x1,y1,x2,y2")
            with gr.Accordion("Advanced", open=False):
                with gr.Row():
                    batch = gr.Slider(1, 64, value=16, step=1, label="Batch size")
                    seed = gr.Number(value=0, precision=0, label="Seed")
                    crf = gr.Slider(0, 35, value=18, step=1, label="Quality (CRF, lower = better)")
                with gr.Row():
                    smooth = gr.Checkbox(value=True, label="Smooth face boxes over time")
                    use_cache = gr.Checkbox(value=True, label="Reuse the prepared video (cache)")
                    device = gr.Dropdown(["auto", "cpu", "cuda"], value="auto", label="Device")
                    dtype = gr.Dropdown(["auto", "fp32", "fp16", "bf16"], value="auto", label="Precision")
                    max_side = gr.Number(value=LipdubRequest.max_side, precision=0,
                                         label="Max video side (px, 0 = keep size)")
        with gr.Column(scale=4):
            row = action_row("Preview first frame")
            hint = gr.Markdown()
            with gr.Row():
                overlay = gr.Image(label="Frame 0: face and mask", type="filepath", interactive=False,
                                   height=200, elem_id="lipdub-overlay")
                dubbed = gr.Image(label="Frame 0 dubbed", type="filepath", interactive=False, height=200,
                                  elem_id="lipdub-dubbed")
            result = streamed_video(label="Result", interactive=False, height=280, elem_id="lipdub-result")

    controls = [version, bbox_shift, extra_margin, parsing, left, right, batch, seed, face, point, box, smooth, crf,
                use_cache, device, dtype, max_side]
    inputs = [video, *panel.inputs, *controls]

    # Named parameters (not *values) so the API endpoints document each input by name. The None defaults only tell
    # Gradio that inputs without a starting value (end, keep_file, face_point, box) are optional for API clients;
    # every other input's default is its component's value.
    def do_preview(video, audio, start, end=None, separate_vocals=None, keep_audio=None, keep_file=None,
                   normalize=None, rest=None, rest_min_pause=None,
                   version=None, bbox_shift=None, extra_margin=None, parsing_mode=None,
                   left_cheek_width=None, right_cheek_width=None, batch_size=None, seed=None, face=None,
                   face_point=None, box=None, smooth=None, crf=None, use_cache=None, device=None, dtype=None,
                   max_side=None, request: gr.Request = None, progress=gr.Progress()):  # noqa: B008 - injected
        """First-frame preview: overlay, dubbed frame 0 (real audio window), suggested bbox_shift range."""
        req = make_request(video, [audio, start, end, separate_vocals, keep_audio, keep_file, normalize, rest,
                            rest_min_pause], version,
                           bbox_shift, extra_margin, parsing_mode, left_cheek_width, right_cheek_width, batch_size,
                           seed, face, face_point, box, smooth, crf, use_cache, device, dtype, max_side)
        try:
            res = run_preview("lipdub", engine_preview, req, request, progress)
        except BadInputError as exc:
            if not str(exc).startswith("no face found"):
                raise
            return _no_face(req.video, exc)
        return str(res.extra["images"]["overlay"]), str(res.output), _hint(res.extra)

    def do_generate(video, audio, start, end=None, separate_vocals=None, keep_audio=None, keep_file=None,
                    normalize=None, rest=None, rest_min_pause=None,
                    version=None, bbox_shift=None, extra_margin=None, parsing_mode=None,
                    left_cheek_width=None, right_cheek_width=None, batch_size=None, seed=None, face=None,
                    face_point=None, box=None, smooth=None, crf=None, use_cache=None, device=None, dtype=None,
                    max_side=None, request: gr.Request = None, progress=gr.Progress()):  # noqa: B008
        """Dub the whole video: result video, timings, suggested bbox_shift range."""
        req = make_request(video, [audio, start, end, separate_vocals, keep_audio, keep_file, normalize, rest,
                            rest_min_pause], version,
                           bbox_shift, extra_margin, parsing_mode, left_cheek_width, right_cheek_width, batch_size,
                           seed, face, face_point, box, smooth, crf, use_cache, device, dtype, max_side)

        def done(res):
            cached = "prepared video reused from the cache · " if res.extra.get("cache_hit") else ""
            return str(res.output), cached + res.summary(), _hint(res.extra)

        yield from stream_job("lipdub", engine_run, req, request, progress,
                              lambda line: (gr.skip(), line, gr.skip()), done)

    def pick_point(video, picture, evt: gr.SelectData):
        """The clicked point in the file's pixels (the overlay shows the working size)."""
        x, y = _in_file_pixels(evt.index, video, picture)
        return f"{x},{y}", -1

    wire(row, "lipdub", inputs, do_preview, [overlay, dubbed, hint], do_generate, [result, row.status, hint])
    overlay.select(pick_point, [video, overlay], [point, face], api_visibility="private")
    fields = {"version": version, "bbox_shift": bbox_shift, "extra_margin": extra_margin, "parsing_mode": parsing,
              "left_cheek_width": left, "right_cheek_width": right, "batch_size": batch, "seed": seed,
              "smooth": smooth, "crf": crf}
    preset_panel("lipdub", (LipdubRequest, AudioOptions), {**fields, **panel.fields})
