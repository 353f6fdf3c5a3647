"""Tab "Infinite avatar": lays out the controls and calls core.engines.avatar through the shared job wiring."""
from __future__ import annotations

import gradio as gr

from core.audio.options import AudioOptions
from core.errors import BadInputError
from core.engines.avatar import pipeline
from core.engines.avatar.memory import LABELS, MODES, estimate_vram_gb
from core.engines.avatar.request import (
    DEFAULT_NEGATIVE,
    DEFAULT_PROMPT,
    RESOLUTIONS,
    STEP_PRESETS,
    AvatarRequest,
    parse_size,
)
from ui.audio_panel import audio_panel, options_from_values
from ui.components import SETTINGS, preset_panel
from ui.jobs import action_row, run_preview, stream_job, streamed_video, wire

SIZE_LABELS = {"512x512": "512 × 512 (square)", "480x832": "480 × 832 (portrait)", "832x480": "832 × 480 (landscape)"}


def _path(value) -> str | None:
    if value in (None, ""):
        return None
    return str(getattr(value, "name", value))


def memory_choices(size: str) -> list[tuple[str, str]]:
    """Memory modes labelled with their estimated peak GPU memory at this size (512x512 while it is not valid)."""
    try:
        width, height = parse_size(size)
    except BadInputError:
        width, height = parse_size(RESOLUTIONS[0])
    return [(f"{LABELS[m]} · ~{estimate_vram_gb(m, width, height):g} GB", m) for m in MODES]


def make_request(image, audio_values, prompt, negative_prompt, size, steps, text_guidance, audio_guidance, overlap,
                 seed, memory, colour_correction, crf, device, dtype) -> AvatarRequest:
    """The request the tab's values describe, through the same validation as the CLI."""
    audio = options_from_values(*audio_values)
    if not _path(image):
        raise gr.Error("drop a photo of the person to animate", print_exception=False)
    return AvatarRequest(
        image=_path(image), audio=audio, prompt=prompt or DEFAULT_PROMPT, negative_prompt=negative_prompt or "",
        size=size, steps=int(steps), text_guidance=float(text_guidance), audio_guidance=float(audio_guidance),
        overlap=int(overlap), seed=int(seed or 0), memory=memory, colour_correction=float(colour_correction),
        crf=int(crf), **SETTINGS.request_fields(device, dtype))


def build() -> None:
    with gr.Row():
        with gr.Column(scale=5):
            image = gr.Image(label="Reference photo (stretched to the size, no crop)", type="filepath",
                             sources=["upload", "clipboard"], height=220, elem_id="avatar-image")
            panel = audio_panel("avatar")
            prompt = gr.Textbox(value=DEFAULT_PROMPT, lines=2, label="Prompt",
                                info="first frame, then behaviour, then background")
            with gr.Row():
                size = gr.Dropdown([(SIZE_LABELS[s], s) for s in RESOLUTIONS], value=RESOLUTIONS[0], label="Size",
                                   allow_custom_value=True, info="or type WIDTHxHEIGHT (multiples of 16)")
                preset = gr.Radio([(f"{k} ({v})", v) for k, v in STEP_PRESETS.items()],
                                  value=STEP_PRESETS["balanced"], label="Quality")
                steps = gr.Slider(1, 100, value=STEP_PRESETS["balanced"], step=1, label="Steps")
            with gr.Row():
                text_guidance = gr.Slider(1, 10, value=3.0, step=0.5, label="Text guidance")
                audio_guidance = gr.Slider(1, 10, value=5.0, step=0.5, label="Audio guidance")
            with gr.Accordion("Advanced", open=False):
                negative_prompt = gr.Textbox(value=DEFAULT_NEGATIVE, lines=2, label="Negative prompt")
                with gr.Row():
                    overlap = gr.Slider(1, 20, value=5, step=1, label="Window overlap (latent frames)")
                    seed = gr.Number(value=0, precision=0, label="Seed")
                    colour = gr.Slider(0, 1, value=0, step=0.05, label="Colour correction",
                                       info="match every frame's colours to the photo (0 = off)")
                with gr.Row():
                    memory = gr.Dropdown(memory_choices(RESOLUTIONS[0]), value="full", label="GPU memory mode")
                    crf = gr.Slider(0, 35, value=18, step=1, label="Quality (CRF, lower = better)")
                    device = gr.Dropdown(["auto", "cpu", "cuda"], value="auto", label="Device")
                    dtype = gr.Dropdown(["auto", "fp32", "fp16", "bf16"], value="auto", label="Precision",
                                        info="auto = bf16 on a GPU, as StableAvatar")
        with gr.Column(scale=4):
            row = action_row("Preview (first 3 s, draft)")
            with gr.Row():
                still = gr.Image(label="Preview: last frame of the first window", type="filepath",
                                 interactive=False, height=220, elem_id="avatar-still")
                clip = gr.Video(label="Preview clip", interactive=False, height=220, elem_id="avatar-clip")
            result = streamed_video(label="Result", interactive=False, height=280, elem_id="avatar-result")

    preset.change(lambda v: v, preset, steps, api_visibility="private")
    size.change(lambda s, m: gr.update(choices=memory_choices(s), value=m), [size, memory], memory,
                api_visibility="private")
    controls = [prompt, negative_prompt, size, steps, text_guidance, audio_guidance, overlap, seed, memory, colour,
                crf, device, dtype]
    inputs = [image, *panel.inputs, *controls]

    # Named parameters (not *values) so the API endpoints document each input by name and accept keywords.
    def do_preview(image, audio, start, end=None, separate_vocals=None, keep_audio=None, keep_file=None,
                   normalize=None, rest=None, rest_min_pause=None,
                   prompt=None, negative_prompt=None, size=None, steps=None, text_guidance=None,
                   audio_guidance=None, overlap=None, seed=None, memory=None, colour_correction=None, crf=None,
                   device=None, dtype=None, request: gr.Request = None, progress=gr.Progress()):  # noqa: B008
        """Preview: the first window (up to 3.24 s) at draft steps: its last frame and the clip."""
        req = make_request(image, [audio, start, end, separate_vocals, keep_audio, keep_file, normalize, rest,
                            rest_min_pause], prompt,
                           negative_prompt, size, steps, text_guidance, audio_guidance, overlap, seed, memory,
                           colour_correction, crf, device, dtype)
        res = run_preview("avatar", pipeline.preview, req, request, progress, split_gpu_calls=True)
        return str(res.output), str(res.extra["video"])

    def do_generate(image, audio, start, end=None, separate_vocals=None, keep_audio=None, keep_file=None,
                    normalize=None, rest=None, rest_min_pause=None,
                    prompt=None, negative_prompt=None, size=None, steps=None, text_guidance=None,
                    audio_guidance=None, overlap=None, seed=None, memory=None, colour_correction=None, crf=None,
                    device=None, dtype=None, request: gr.Request = None, progress=gr.Progress()):  # noqa: B008
        """Generate the whole video: result and timings."""
        req = make_request(image, [audio, start, end, separate_vocals, keep_audio, keep_file, normalize, rest,
                            rest_min_pause], prompt,
                           negative_prompt, size, steps, text_guidance, audio_guidance, overlap, seed, memory,
                           colour_correction, crf, device, dtype)

        def done(res):
            seconds = res.extra.get("seconds") or 0.0
            rtf = f" · real-time factor {res.timings.get('total', 0.0) / seconds:.2f}" if seconds else ""
            return str(res.output), res.summary() + rtf

        yield from stream_job("avatar", pipeline.run, req, request, progress, lambda line: (gr.skip(), line), done,
                              split_gpu_calls=True)

    wire(row, "avatar", inputs, do_preview, [still, clip], do_generate, [result, row.status], split_gpu_calls=True)
    fields = {"prompt": prompt, "negative_prompt": negative_prompt, "size": size, "steps": steps,
              "text_guidance": text_guidance, "audio_guidance": audio_guidance, "overlap": overlap, "seed": seed,
              "memory": memory, "colour_correction": colour, "crf": crf}
    preset_panel("avatar", (AvatarRequest, AudioOptions), {**fields, **panel.fields})
