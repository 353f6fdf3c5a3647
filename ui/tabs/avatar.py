"""Tab "Infinite avatar": lays out the controls and calls core.engines.avatar through the shared job wiring.

The parameters come from ``AvatarRequest``'s declarations (``ui.params.Form``); hand-written here: the photo, the
audio panel, the Quality radio that sets the steps, the size and memory menus' words (memory modes labelled with
their estimated peak GPU memory at the chosen size), the Preview button's label (what it renders), the time a CPU
needs, and the two previews.
"""
from __future__ import annotations

import gradio as gr

from core.audio.options import AudioOptions
from core.engines.avatar import pipeline
from core.engines.avatar.cost import cpu_note
from core.engines.avatar.memory import LABELS, MODES, estimate_vram_gb
from core.engines.avatar.request import RESOLUTIONS, STEP_PRESETS, AvatarRequest, parse_size
from core.errors import BadInputError
from core.wan import sampling
from core.wan.audio import FPS
from ui.audio_panel import audio_panel
from ui.components import SETTINGS, answer_unreadable, preset_panel
from ui.jobs import action_row, run_preview, stream_job, streamed_video, wire
from ui.params import SHARED, Form
from ui.tabparts import audio_inputs, audio_options, finished, path_of, request_fields

SIZE_LABELS = {"512x512": "512 × 512 (square)", "480x832": "480 × 832 (portrait)", "832x480": "832 × 480 (landscape)"}


def _size_or_default(size: str) -> tuple[int, int]:
    try:
        return parse_size(size)
    except BadInputError:
        return parse_size(RESOLUTIONS[0])


def memory_choices(size: str) -> list[tuple[str, str]]:
    """Memory modes labelled with their estimated peak GPU memory at this size (512x512 while it is not valid),
    between the studio-wide auto (the Settings tab's profile) and low (= sequential)."""
    width, height = _size_or_default(size)
    modes = [(f"{LABELS[m]} · ~{estimate_vram_gb(m, width, height):g} GB", m) for m in MODES]
    return [("Auto (the studio's memory profile)", "auto"), *modes, ("Low (= sequential)", "low")]


def preview_label(steps) -> str:
    """What Preview renders: the first window (at the chosen size) at draft steps."""
    draft = min(int(steps or pipeline.PREVIEW_STEPS), pipeline.PREVIEW_STEPS)
    return f"Preview {sampling.video_frames(sampling.WINDOW) / FPS:.1f} s, {draft} steps"


def make_request(form: Form, values: dict) -> AvatarRequest:
    """The request the tab's values describe, through the same validation as the CLI."""
    image = path_of(values.get("image"))
    if not image:
        raise gr.Error("drop a photo of the person to animate", print_exception=False)
    return AvatarRequest(image=image, audio=audio_options(values), **request_fields(form, values))


def build() -> Form:
    form = Form("avatar", AvatarRequest)
    default = AvatarRequest.__dataclass_fields__
    with gr.Row():
        with gr.Column(scale=5):
            image = answer_unreadable(gr.Image(label="Reference photo (stretched to the size, no crop)",
                                               type="filepath", sources=["upload", "clipboard"], height=220,
                                               elem_id="avatar-image"))
            panel = audio_panel("avatar")
            form.add("prompt")
            with gr.Row():
                size = form.add("size", choices=[(SIZE_LABELS[s], s) for s in RESOLUTIONS])[0]
                quality = gr.Radio([(f"{k} ({v})", v) for k, v in STEP_PRESETS.items()],
                                   value=default["steps"].default, label="Quality", scale=2)
            steps = form.add("steps")[0]
            with gr.Accordion("Advanced", open=False):
                form.add("negative_prompt")
                memory = form.add("memory", choices=memory_choices(RESOLUTIONS[0]))[0]
                form.add_group("advanced", exclude=SHARED, per_row=3)
                form.add_shared()
        with gr.Column(scale=4):
            row = action_row(preview_label(default["steps"].default))
            estimate = gr.Markdown(elem_id="avatar-estimate", elem_classes=["job-estimate"])
            with gr.Row():
                still = gr.Image(label="Preview: last frame of the first window", type="filepath",
                                 interactive=False, height=200, elem_id="avatar-still")
                clip = gr.Video(label="Preview clip", interactive=False, height=200, elem_id="avatar-clip")
            result = streamed_video(label="Result", interactive=False, height=280, elem_id="avatar-result")

    audio_names, audio_components = audio_inputs(panel)
    leading = ["image", *audio_names]
    inputs = [image, *audio_components, *form.inputs]

    def do_preview(values, request=None, progress=None):
        """Preview: the first window (up to 3.24 s) at draft steps: its last frame and the clip."""
        res = run_preview("avatar", pipeline.preview, make_request(form, values), request, progress,
                          split_gpu_calls=True)
        return str(res.output), str(res.extra["video"])

    def do_generate(values, request=None, progress=None):
        """Generate the whole video: result and timings."""
        req = make_request(form, values)

        def done(res):
            seconds = res.extra.get("seconds") or 0.0
            rtf = [f"real-time factor {res.timings.get('total', 0.0) / seconds:.2f}"] if seconds else []
            return str(res.output), finished(res, *rtf)

        yield from stream_job("avatar", pipeline.run, req, request, progress, lambda line: (gr.skip(), line), done,
                              split_gpu_calls=True)

    wire(row, "avatar", inputs, form.handler(do_preview, leading), [still, clip],
         form.handler(do_generate, leading), [result, row.status], split_gpu_calls=True)
    quality.change(lambda v: v, quality, steps, api_visibility="private")
    size.change(lambda s, m: gr.update(choices=memory_choices(s), value=m), [size, memory], memory,
                api_visibility="private")
    steps.change(lambda n: gr.update(value=preview_label(n)), steps, row.preview, api_visibility="private")

    def time_note(audio, start, end, size_value, steps_value, overlap, device):
        """How long a CPU needs, said before Generate (nothing on a GPU)."""
        return cpu_note(SETTINGS.request_fields(device)["device"], _size_or_default(size_value), steps_value,
                        overlap, path_of(audio), start, end, SETTINGS.checkpoints)

    watched = [panel.audio, panel.start, panel.end, size, steps, form.components["overlap"],
               form.components["device"]]
    gr.on([c.change for c in watched], time_note, watched, estimate, api_visibility="private")
    preset_panel("avatar", (AvatarRequest, AudioOptions), {**form.components, **panel.fields})
    return form
