"""The one registry of engines. The weights manager, ``python -m core``, the UI shell and the Models tab read
``ENGINES``.

An engine is a package ``core/engines/<name>/`` (or another package named in its line) holding, by convention:

- ``request.py``  the typed request: a ``@dataclass(kw_only=True)`` subclass of ``core.request.EngineRequest``
                  (``REQUEST`` names the class);
- ``pipeline.py`` ``run(request, ctx) -> JobResult`` and ``preview(request, ctx) -> JobResult`` (numbered steps);
- ``weights.py``  the manifest: ``FILES: list[WeightFile]`` and ``make_test_checkpoints(root)``;
- ``cli.py``      optional: ``add_arguments(parser)`` and ``extra_fields(args)`` for the few flags that are not
                  plain request fields (every declared field is a flag already, through ``core.spec``);

and, for the studio, a tab module ``ui/tabs/<name>.py`` with ``build()``. Adding an engine is one package and
one line below. Nothing here imports an engine until it is asked for, so listing engines stays cheap.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from core.errors import BadInputError


@dataclass(frozen=True)
class Engine:
    """One engine (or tool) as the rest of the product sees it.

    ``generates`` is False for a tool that only brings weights and commands (the vocal separator): it has no
    request, pipeline or tab, and the CLI takes its subcommands from ``cli.add_parser(subparsers)``.
    """

    name: str
    title: str                 # what the models are, in listings and banners: "Lip-dub (MuseTalk)"
    package: str
    tab: str | None = None     # the studio tab's module (``build()``)
    tab_title: str = ""        # the tab's label: "Lip-dub a video"
    generates: bool = True
    help: str = ""             # one line for ``python -m core --help``

    def module(self, part: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{part}")

    @property
    def weights(self) -> ModuleType:
        return self.module("weights")

    @property
    def cli(self) -> ModuleType | None:
        """The engine's hand-written flags (``add_arguments``, ``extra_fields``), if it has any; None otherwise. A
        tool (``generates=False``) always has one: its ``add_parser(subparsers)``."""
        try:
            return self.module("cli")
        except ModuleNotFoundError as exc:
            if exc.name != f"{self.package}.cli":
                raise
            return None

    @property
    def request_type(self) -> type:
        module = self.module("request")
        return module.REQUEST

    @property
    def run(self) -> Callable[[Any, Any], Any]:
        return self.module("pipeline").run

    @property
    def preview(self) -> Callable[[Any, Any], Any]:
        return self.module("pipeline").preview


ENGINES: list[Engine] = [
    Engine("lipdub", "Lip-dub (MuseTalk)", "core.engines.lipdub", tab="ui.tabs.lipdub", tab_title="Lip-dub a video",
           help="lip-dub a video or photo to new speech (MuseTalk 1.5 / 1.0)"),
    Engine("portrait", "Animate a photo (MoDA + LivePortrait)", "core.engines.portrait", tab="ui.tabs.portrait",
           tab_title="Animate a photo", help="animate a photo from speech (MoDA + LivePortrait)"),
    Engine("avatar", "Infinite avatar (StableAvatar on Wan2.1-Fun 1.3B)", "core.engines.avatar", tab="ui.tabs.avatar",
           tab_title="Infinite avatar", help="a talking video of any length from one photo, speech and a prompt"),
    Engine("expression", "Expression control (LivePortrait + MoDA)", "core.engines.expression",
           tab="ui.tabs.expression", tab_title="Expression control",
           help="edit a photo's or video's expressions, or animate a photo with an emotion timeline"),
    Engine("audio", "Audio preparation (vocal separation, MDX-Net Kim_Vocal_2)", "core.audio", generates=False),
]


def get(name: str) -> Engine:
    for engine in ENGINES:
        if engine.name == name:
            return engine
    raise BadInputError(f"unknown engine {name!r}: choose from {', '.join(e.name for e in ENGINES)}")
