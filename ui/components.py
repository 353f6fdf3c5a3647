"""Pieces every tab shares: error mapping, progress, ZeroGPU wrapping, the weights banner, presets, studio settings."""
from __future__ import annotations

import functools
import html
import importlib
import importlib.util
import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from core import weights
from core.errors import JobCancelled, MouthpieceError
from core.jobs import JobResult, ProgressFn
from ui import presets

log = logging.getLogger("mouthpiece.ui")


@dataclass
class StudioSettings:
    """The studio's defaults, set on the Models & settings tab (and ``app.py --checkpoints``).

    A tab whose Device, Precision or Memory profile is left at "auto" takes these; an explicit choice in a tab is
    never rewritten.
    "auto" precision is resolved by core's one dtype policy (fp16 on CUDA, fp32 on the CPU).
    """

    device: str = "auto"
    dtype: str = "auto"
    memory: str = "auto"
    checkpoints: str | None = None

    def request_fields(self, device: str | None = None, dtype: str | None = None,
                       memory: str | None = None) -> dict[str, Any]:
        """device, dtype, memory profile and checkpoints for a request, a tab's explicit choices winning over the
        defaults."""
        return {"device": device if device not in (None, "", "auto") else self.device,
                "dtype": dtype if dtype not in (None, "", "auto") else self.dtype,
                "memory": memory if memory not in (None, "", "auto") else self.memory,
                "checkpoints": self.checkpoints}


# One creator, one machine: the studio's settings are process-wide, like the model cache they steer.
SETTINGS = StudioSettings()


# Core's messages name the CLI's flags; in the studio the same advice names the control. The one mapping, applied to
# every error and warning the studio shows (longest phrases first).
UI_WORDS: list[tuple[str, str]] = [
    # No face detected: a click cannot pick one, so a click on the picture starts a box around it (ui.tabparts).
    (r"draw a box with --box x1,y1,x2,y2", ("click the face on the preview to put a box around it, or draw one in "
                                            "Mask and face → Manual box")),
    (r"draw a face box \(x1,y1,x2,y2\)", ("click the face on the preview picture to put a box around it, or draw "
                                         "one in Advanced → Manual face box,")),  # photo and expression
    (r"draw a face box$", ("click the face on the preview to put a box around it, or draw one in Mask and face → "
                           "Manual box")),  # lip-dub
    (r"--box x1,y1,x2,y2", "Manual box"),
    (r"--box", "Manual box"),
    (r"--point", "a click on the preview"),
    (r"--face", "Face number"),
    (r"--device cpu", "CPU under Device"),
    (r"--device", "Device"),
    (r"--dtype", "Precision"),
    (r"--keep-audio", "Output video's sound"),
    (r"--separate-vocals", "Separate vocals"),
    (r"--max-side", "Max photo side"),
    (r"--batch-size", "Batch size"),
    (r"--start", "Start (s)"),
    (r"--end", "End (s)"),
    (r"Fetch them with: python download_weights.py --engine (\w+)",
     r"Use the Download button above the tab (or run python download_weights.py --engine \1)"),
]


def ui_language(text: str) -> str:
    """``text`` with every CLI flag it mentions replaced by the studio control that does the same."""
    for pattern, replacement in UI_WORDS:
        text = re.sub(pattern, replacement, text)
    return text


def _one_line(text: str) -> str:
    lines = [line for line in ui_language(str(text)).splitlines() if line.strip()]
    return html.escape(lines[0] if lines else "", quote=False)  # gr.Error renders HTML; API clients read it raw


def _ui_error(exc: BaseException, fn: Callable) -> gr.Error:
    if isinstance(exc, JobCancelled):
        return gr.Error(_one_line(str(exc) or "cancelled"), title="Cancelled", print_exception=False)
    if isinstance(exc, MouthpieceError):
        return gr.Error(_one_line(str(exc)), print_exception=False)
    log.error("unexpected failure in %s", getattr(fn, "__name__", fn), exc_info=exc)
    return gr.Error(f"unexpected {type(exc).__name__}: {_one_line(str(exc))} (details in the console)",
                    print_exception=False)


def run_action(fn: Callable) -> Callable:
    """Show a failed action as a one-line gr.Error (no traceback for creator errors); the app keeps serving.
    Works for plain handlers and for generator handlers (streamed progress)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                raise _ui_error(exc, fn) from None

        return streaming

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise _ui_error(exc, fn) from None

    return wrapper


def answer_unreadable(image: gr.Image) -> gr.Image:
    """Make ``image`` answer an unreadable upload (0 bytes, not an image) with core's one-line message, the one the
    CLI prints, instead of Gradio's "upstream app raised an exception". Returns the same component."""
    preprocess = image.preprocess

    def checked(payload):
        try:
            return preprocess(payload)
        except Exception as exc:
            raise gr.Error(_one_line(unreadable_image_message(payload.path, exc)), print_exception=False) from None

    image.preprocess = checked
    return image


def unreadable_image_message(path: str, exc: BaseException) -> str:
    """Why ``path`` could not be opened, as core's reader words it (the CLI's message)."""
    from core.media import probe

    try:
        probe(path)
    except MouthpieceError as reason:
        return str(reason)
    return f"{Path(path).name} could not be read as an image ({type(exc).__name__})"


def progress_adapter(gr_progress: gr.Progress) -> ProgressFn:
    """Turn core's (fraction, message) callbacks into gr.Progress updates."""

    def report(fraction: float, message: str) -> None:
        gr_progress(min(max(float(fraction), 0.0), 1.0), desc=message)

    return report


def gpu(fn: Callable, duration: int | None = None) -> Callable:
    """Wrap GPU work with spaces.GPU when running on a Hugging Face Space (the `spaces` package is present)."""
    if importlib.util.find_spec("spaces") is None:
        return fn
    spaces = importlib.import_module("spaces")
    return spaces.GPU(duration=duration)(fn) if duration else spaces.GPU(fn)


ZERO_GPU_CALL_S = 60  # the duration one ZeroGPU call declares; a job fills 80 % of it per call


def gpu_calls() -> dict[str, Any]:
    """``run_job`` keywords for an engine that splits its work into GPU calls (``ctx.gpu_call``): on a ZeroGPU Space
    each call goes to a GPU worker for at most ``ZERO_GPU_CALL_S`` seconds; elsewhere nothing changes."""
    if importlib.util.find_spec("spaces") is None:
        return {}
    from core.jobs import run_here

    spaces = importlib.import_module("spaces")
    return {"gpu_call": spaces.GPU(duration=ZERO_GPU_CALL_S)(run_here), "gpu_budget_s": 0.8 * ZERO_GPU_CALL_S}


def report_warnings(result: JobResult) -> None:
    """Show a finished job's warnings (e.g. test weights, no face in some frames) as gr.Warning toasts."""
    for message in result.warnings:
        gr.Warning(_one_line(message))


# ---------------------------------------------------------------- weights

def engine_title(engine: str) -> str:
    return weights.title(engine)


def missing_markdown(engine: str) -> str:
    """What the banner says: every missing file of the engine, or an empty string when all are present."""
    gone = weights.missing(engine, SETTINGS.checkpoints)
    if not gone:
        return ""
    shown = ", ".join(f"`{f.local}`" for f in gone)
    return (f"### {engine_title(engine)}: {len(gone)} model file(s) needed\n"
            f"Missing from `{weights.root_dir(SETTINGS.checkpoints)}`: {shown}.\n\n"
            "Download them here (progress is shown), or run "
            f"`python download_weights.py --engine {engine}`.")


def download_queue(engine: str) -> str:
    """Every Download button of one engine shares this queue slot, so two clicks never write the same file at once."""
    return f"download_{engine}"


def download_weights(engine: str, gr_progress: gr.Progress) -> str:
    """Fetch the engine's missing files with progress; returns a one-line status."""
    fetched = weights.download(engine, SETTINGS.checkpoints, progress=progress_adapter(gr_progress))
    return f"{engine_title(engine)}: " + (f"downloaded {len(fetched)} file(s)." if fetched else "all files present.")


def weights_banner(engine: str) -> None:
    """A notice naming the engine's missing files with a one-click Download; hidden once everything is present."""
    with gr.Group(visible=bool(weights.missing(engine, SETTINGS.checkpoints))) as group:
        text = gr.Markdown(missing_markdown(engine))
        button = gr.Button(f"Download {engine_title(engine)} weights", variant="primary")
    status = gr.Markdown()

    def refresh():
        body = missing_markdown(engine)
        return gr.update(visible=bool(body)), body

    def download(progress=gr.Progress()):
        message = download_weights(engine, progress)
        return (*refresh(), message)

    # The Models & settings tab carries the public download_<engine> endpoint; these stay private.
    button.click(run_action(download), None, [group, text, status], api_visibility="private",
                 concurrency_id=download_queue(engine))
    gr.on(triggers=None, fn=refresh, inputs=None, outputs=[group, text], api_visibility="private")


# ---------------------------------------------------------------- presets

def preset_panel(tab: str, request_cls: type | tuple[type, ...], fields: dict[str, gr.components.Component]) -> None:
    """Save/load the tab's parameters (``fields``: request field name -> component) as presets/<tab>/<name>.yaml.

    ``request_cls`` may be a tuple, e.g. ``(LipdubRequest, AudioOptions)`` with ``{**own_fields, **panel.fields}``.

    Endpoints: ``<tab>_save_preset(name, *values)`` and ``<tab>_load_preset(name)``.
    """
    names, components = list(fields), list(fields.values())
    with gr.Accordion("Presets", open=False), gr.Row():
        choice = gr.Dropdown(presets.list_presets(tab), value=None, label="Preset name",
                             allow_custom_value=True, scale=3)
        load = gr.Button("Load preset", scale=1)
        save = gr.Button("Save preset", scale=1)

    def save_fn(name: str, *values: Any):
        path = presets.save_preset(tab, name, dict(zip(names, values)), request_cls)
        gr.Info(f"saved {path.name}")
        return gr.update(choices=presets.list_presets(tab), value=path.stem)

    def load_fn(name: str):
        values = presets.load_preset(tab, name, request_cls)
        updates = [values[n] if n in values else gr.skip() for n in names]
        return updates[0] if len(updates) == 1 else updates

    save.click(run_action(save_fn), [choice, *components], choice, api_name=f"{tab}_save_preset")
    load.click(run_action(load_fn), choice, components, api_name=f"{tab}_load_preset")
    # Presets saved since the server started (another session, or copied into presets/) appear on page load.
    gr.on(triggers=None, fn=lambda: gr.update(choices=presets.list_presets(tab)), inputs=None, outputs=choice,
          api_visibility="private")
