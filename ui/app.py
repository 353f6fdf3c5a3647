"""The studio shell: one tab per registered engine (``core.engine.ENGINES``), then Batch, then Models & settings.

Each engine tab gets the missing-weights banner above it and is built by its own module's ``build()``. A tab module
that fails to import or build is a bug: the tab shows the error (and the console the traceback) while the rest of the
studio keeps working.
"""
from __future__ import annotations

import importlib
import logging
import os

import gradio as gr

from core import engine as registry
from core import paths
from ui.components import SETTINGS, weights_banner

log = logging.getLogger("mouthpiece.ui")
SETTINGS_TAB = ("Models & settings", "ui.tabs.settings")
BATCH_TAB = ("Batch", "ui.tabs.batch")
LIVE_TAB = ("Live", "ui.tabs.live")  # after the engine tabs, when an engine streams live (``Engine.live``)

# System fonts: the studio must render the same offline as online (no Google Fonts fetch).
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = (".job-status p { margin: 0; font-variant-numeric: tabular-nums; }"
       " .job-estimate p { margin: 0; font-size: var(--text-sm); color: var(--body-text-color-subdued); }"
       # File names wrap instead of being cut to "s..wav" in narrow columns.
       " .file-preview .filename .stem { white-space: normal; overflow-wrap: anywhere; }"
       " .file-preview .download { min-width: 0; width: auto; }"
       # An empty audio box starts its upload icon below its floating label (up to two lines), not under it.
       " [id$='-audio'] > .upload-container { height: 160px !important; padding-top: 2.5em; }"
       # Toasts at the bottom left, over the folded options, not over Preview / Generate / Stop at the top right.
       " .toast-wrap { top: auto !important; bottom: var(--size-4); left: var(--size-3) !important;"
       " right: auto !important; align-items: start !important; }")


def tabs() -> list[tuple[str, str, str | None]]:
    """(title, tab module, engine name) for every tab, in order."""
    live = [(*LIVE_TAB, e.name) for e in registry.ENGINES if e.live][:1]
    engines = [(e.tab_title or e.title, e.tab, e.name) for e in registry.ENGINES if e.tab]
    return engines + live + [(*BATCH_TAB, None), (*SETTINGS_TAB, None)]


def _build_tab(title: str, module_name: str, engine: str | None) -> None:
    try:
        module = importlib.import_module(module_name)
        if engine is not None:
            weights_banner(engine)
        module.build()
    except Exception as exc:
        log.exception("tab %r failed to build", title)
        first = str(exc).splitlines()[0] if str(exc) else ""
        gr.Markdown(f"### {title} could not start\n`{type(exc).__name__}: {first}`\n\n"
                    "The other tabs work; the console has the details.")


def launch_options() -> dict:
    """launch() keywords: the theme, and leave to serve results (outputs/) and prepared media (the cache)."""
    return {"theme": THEME, "css": CSS, "allowed_paths": [str(paths.outputs_dir()), str(paths.cache_dir())]}


def build_app(checkpoints: str | os.PathLike | None = None) -> gr.Blocks:
    """The whole studio; ``checkpoints`` is the weights folder every job of this studio uses (``--checkpoints``)."""
    from ui.jobs import cancel_session

    SETTINGS.checkpoints = None if checkpoints is None else str(checkpoints)
    with gr.Blocks(title="Mouthpiece", analytics_enabled=False) as demo:  # a local studio never phones home
        gr.Markdown("# Mouthpiece\nAudio-driven talking video on your own machine.")
        with gr.Tabs():
            for title, module_name, engine in tabs():
                with gr.Tab(title):
                    _build_tab(title, module_name, engine)
        demo.unload(cancel_session)  # a closed browser tab stops its jobs
    return demo
