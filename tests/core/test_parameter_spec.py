"""The parameter spec's contract, for every engine in the registry (issue 15): a field declared once gives the CLI
flag with the request's default, the range check with one message from every door, the tab's control with the same
default, the request.json and preset round trips, and its line in docs/parameters.md."""
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from core import spec
from core.audio.options import AudioOptions
from core.cli import build_parser, request_from_args
from core.cli import main as cli_main
from core.engine import ENGINES, Engine
from core.errors import BadInputError
from core.request import FaceRequest
from core.spec import param
from tests.appserver import register_engine
from tests.samples import make_tone

ROOT = Path(__file__).resolve().parents[2]
GENERATING = [e for e in ENGINES if e.generates]


def _required_args(engine: Engine, audio: str) -> list[str]:
    """The flags an engine's command cannot run without, with placeholder paths."""
    args = ["--audio", audio]
    for s in spec.specs(engine.request_type):
        if s.required and s.param.cli and s.name != "audio":
            args += [s.flag, "x.png"]
    if engine.name == "expression":
        args += ["--image", "x.png"]
    return args


def _non_default(s: spec.Spec):
    """A valid value other than the default, for the round trips."""
    p = s.param
    if p.choices is not None:
        return next(c for c in p.choices if c != s.default)
    if s.type is bool:
        return not s.default
    if s.type in (int, float):
        lo, hi = p.range or (None, None)
        value = (s.default or 0) + 1 if hi is None or (s.default or 0) + 1 <= hi else (lo if lo is not None else 0)
        return s.type(value)
    if s.type is str:
        return "changed"
    return s.default


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    return str(make_tone(tmp_path_factory.mktemp("spec") / "a.wav", seconds=0.3))


@pytest.mark.parametrize("engine", GENERATING, ids=lambda e: e.name)
class TestEveryEngine:
    def test_cli_defaults_are_the_request_defaults(self, engine, tone):
        args = build_parser().parse_args([engine.name, *_required_args(engine, tone)])
        req = request_from_args(engine, args)
        given = {"audio", *(a.lstrip("-") for a in _required_args(engine, tone)[2::2])}
        for s in spec.specs(engine.request_type):
            if not s.required and s.name not in given:
                assert getattr(req, s.name) == s.default, s.name
        assert req.audio == AudioOptions(tone)

    def test_every_declared_field_round_trips_through_request_json(self, engine, tone):
        values = {s.name: _non_default(s) for s in spec.specs(engine.request_type)
                  if s.param.ui and not s.required and s.param.exclusive == ""}
        req = engine.request_type(**{s.name: "x.png" for s in spec.specs(engine.request_type) if s.required},
                                  audio=AudioOptions(tone), **values)
        text = json.dumps(spec.to_plain(req))
        assert engine.request_type.from_dict(json.loads(text)) == req

    def test_every_declared_field_round_trips_through_a_preset(self, engine, monkeypatch, tmp_path):
        from ui import presets

        monkeypatch.setenv("MOUTHPIECE_PRESETS", str(tmp_path))
        values = {s.name: _non_default(s) for s in spec.specs(engine.request_type) if s.param.ui}
        presets.save_preset(engine.name, "every field", values, engine.request_type)
        assert presets.load_preset(engine.name, "every field", engine.request_type) == values

    def test_every_range_is_enforced_with_one_message_from_the_cli_and_the_request(self, engine, tone, tmp_path,
                                                                                     capsys):
        bounded = [s for s in spec.specs(engine.request_type) if s.param.range and s.param.cli]
        assert bounded, "an engine without a single bounded parameter is suspicious"
        for s in bounded:
            lo, hi = s.param.range
            bad = hi + 1 if hi is not None else lo - 1
            code = cli_main([engine.name, *_required_args(engine, tone), s.flag, str(bad),
                             "--out", str(tmp_path / "o.mp4")])
            line = capsys.readouterr().err.strip().splitlines()[-1]
            assert code == 2 and line.startswith(f"error: {s.param.label} must be "), (s.name, line)
            req = request_from_args(engine, build_parser().parse_args([engine.name, *_required_args(engine, tone)]))
            setattr(req, s.name, bad)
            with pytest.raises(BadInputError) as refused:
                req.validate()
            assert f"error: {refused.value}" == line

    def test_docs_list_every_declared_field(self, engine):
        text = (ROOT / "docs" / "parameters.md").read_text()
        section = text.split(f"`python -m core {engine.name}`")[1].split("\n## ")[0]
        shared = {s.name for s in spec.specs(FaceRequest)}
        for s in spec.specs(engine.request_type):
            if s.name not in shared:
                assert f"| `{s.name}` |" in section, s.name


def test_docs_parameters_md_is_up_to_date():
    """Regenerate with `python -m core.spec > docs/parameters.md`."""
    assert (ROOT / "docs" / "parameters.md").read_text() == spec.reference_markdown() + "\n"


def test_a_range_error_reads_the_same_for_int_float_and_open_ranges():
    @dataclass(kw_only=True)
    class R:
        a: int = param(1, "A", range=(0, 5))
        b: float = param(0.5, "B", range=(None, 1))
        c: int | None = param(None, "C", range=(2, None))
        d: str = param("x", "D", choices=("x", "y"))

    cases = [({"a": 7}, "A must be 0..5, got 7"), ({"a": 1.5}, "A must be a whole number, got 1.5"),
             ({"b": 2.0}, "B must be at most 1, got 2"), ({"c": 1}, "C must be 2 or more, got 1"),
             ({"d": "z"}, "D must be one of x | y, got 'z'"), ({"a": "soon"}, "A must be a number, got 'soon'")]
    for values, message in cases:
        with pytest.raises(BadInputError) as refused:
            spec.check_fields(R(**values))
        assert str(refused.value) == message
    ok = R(a=3.0, c=None)
    spec.check_fields(ok)
    assert ok.a == 3 and isinstance(ok.a, int)


def test_a_field_added_to_a_request_appears_in_the_cli_the_tab_and_the_docs(monkeypatch, tmp_path):
    """A dummy engine declares its fields once; adding `glow` needs no other edit anywhere."""
    import gradio as gr

    from ui.params import Form

    @dataclass(kw_only=True)
    class DummyRequest(FaceRequest):
        image: str = param(label="Photo", ui=False)
        glow: float = param(0.25, "Glow", "how much the face glows", range=(0, 1), step=0.05)

    def build():
        form = Form("dummy", DummyRequest)
        form.add_group("main")
        form.add_group("advanced")

    engine = Engine("dummy", "Dummy engine (test)", "dummy_engine", tab="dummy_tab", tab_title="Dummy tab")
    register_engine(monkeypatch, engine, request=types.SimpleNamespace(REQUEST=DummyRequest),
                    weights=types.SimpleNamespace(FILES=[], make_test_checkpoints=lambda root: None))
    monkeypatch.setitem(sys.modules, "dummy_tab", types.SimpleNamespace(build=build))
    sub = build_parser()._subparsers._group_actions[0].choices["dummy"].format_help()
    assert "--glow X" in sub and "how much the face glows [0..1] (default 0.25)" in " ".join(sub.split())
    assert "| `glow` | `--glow` | `0.25` | 0..1 | Glow | how much the face glows |" in spec.reference_markdown()
    from ui.app import build_app

    demo = build_app(checkpoints=tmp_path)
    config = demo.get_config_file()
    glow = [c for c in config["components"] if c["props"].get("elem_id") == "dummy-glow"]
    assert len(glow) == 1 and glow[0]["type"] == "slider" and glow[0]["props"]["value"] == 0.25
    assert (glow[0]["props"]["minimum"], glow[0]["props"]["maximum"]) == (0, 1)
    # an API value past the range reaches the request, which refuses it with the CLI's words (not Gradio's)
    slider = next(b for b in demo.blocks.values() if isinstance(b, gr.Slider) and b.elem_id == "dummy-glow")
    value = slider.preprocess(3.0)
    with pytest.raises(BadInputError, match=r"^Glow must be 0..1, got 3$"):
        spec.check_fields(DummyRequest(image="x.png", glow=value))
