"""The studio shell: five tabs, each built by its own module; a tab whose engine has not landed says so politely."""
from __future__ import annotations

import importlib
import importlib.util
import logging
import os

import gradio as gr

from core import paths, weights
from ui.components import weights_banner

log = logging.getLogger("mouthpiece.ui")

# Tab title -> "module" (calls module.build()) or "module:function".
TAB_MODULES = {
    "Lip-dub a video": "ui.tabs.lipdub",
    "Animate a photo": "ui.tabs.portrait",
    "Infinite avatar": "ui.tabs.placeholders:build_infinite_avatar",
    "Expression control": "ui.tabs.placeholders:build_expression_control",
    "Models & settings": "ui.tabs.settings",
}
# Tabs whose engine needs model files: the shell puts the missing-weights banner (with Download) above them.
TAB_ENGINES = {"Lip-dub a video": "lipdub", "Animate a photo": "portrait"}

# System fonts: the studio must render the same offline as online (no Google Fonts fetch).
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def _module_present(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _coming_soon(title: str) -> None:
    gr.Markdown(f"### {title} is on its way\nThis part of Mouthpiece has not landed in this version yet. "
                "The other tabs work; **Models & settings** shows what is installed.")


def _build_tab(title: str, target: str) -> None:
    """Build one tab's contents; an absent or broken tab module never stops the rest of the studio."""
    module_name, _, function = target.partition(":")
    if not _module_present(module_name):
        _coming_soon(title)
        return
    engine = TAB_ENGINES.get(title)
    try:
        module = importlib.import_module(module_name)
        if engine in weights.engines():
            weights_banner(engine)
        getattr(module, function or "build")()
    except ModuleNotFoundError as exc:  # the tab landed before the engine it imports
        log.warning("tab %r waits for module %s", title, exc.name)
        _coming_soon(title)
    except Exception as exc:
        log.exception("tab %r failed to build", title)
        first = str(exc).splitlines()[0] if str(exc) else ""
        gr.Markdown(f"### {title} could not start\n`{type(exc).__name__}: {first}`\n\n"
                    "The other tabs work; the console has the details.")


def launch_options() -> dict:
    """launch() keywords: the theme, and leave to serve results (outputs/) and prepared media (the cache)."""
    return {"theme": THEME, "allowed_paths": [str(paths.outputs_dir()), str(paths.cache_dir())]}


def build_app(checkpoints: str | os.PathLike | None = None) -> gr.Blocks:
    """The whole studio; ``checkpoints`` moves the weights folder like ``--checkpoints``."""
    if checkpoints is not None:
        paths.set_checkpoints_dir(checkpoints)
    with gr.Blocks(title="Mouthpiece", analytics_enabled=False) as demo:  # a local studio never phones home
        gr.Markdown("# Mouthpiece\nAudio-driven talking video on your own machine: lip-dub a video or animate a photo.")
        with gr.Tabs():
            for title, target in TAB_MODULES.items():
                with gr.Tab(title):
                    _build_tab(title, target)
    return demo
