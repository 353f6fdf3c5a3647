"""The engine contract: one registry, one request vocabulary, progress spans, the cache's placements, and bad
output paths refused before any work."""
import io
import sys
import threading
import time
import types
from contextlib import redirect_stdout
from dataclasses import dataclass

import pytest
import torch

from core import jobs, weights
from core.audio.options import AudioOptions
from core.cache import ModelCache
from core.cli import build_parser
from core.cli import main as cli_main
from core.engine import Engine
from core.errors import BadInputError
from core.request import EngineRequest, FaceRequest, check_output, parse_box, parse_point
from core.spec import param
from tests.appserver import register_engine
from tests.samples import make_tone


@dataclass(kw_only=True)
class DummyRequest(FaceRequest):
    """A request written as an engine would write one: the shared vocabulary plus its own field."""

    image: str = param(label="Photo", help="a photo", ui=False)
    strength: float = param(1.0, "Strength", "how strong", range=(0, 2), step=0.1)


def _dummy_run(req, ctx):
    out = ctx.job_dir / "dummy.mp4"
    with ctx.span(0.0, 1.0):
        for done in range(1, 4):
            ctx.count(done, 3, "dummy work")
    out.write_bytes(b"not a video, but a result file")
    return ctx.result(out)


def _dummy_engine(monkeypatch, tmp_path) -> Engine:
    """A whole engine declared in one line, its parts as modules (what a new package would hold)."""
    from core.weights import WeightFile

    def make_test_checkpoints(root):
        (root / "dummy").mkdir(parents=True, exist_ok=True)
        (root / "dummy/net.safetensors").write_bytes(b"x")

    parts = {
        "request": types.SimpleNamespace(REQUEST=DummyRequest),
        "pipeline": types.SimpleNamespace(run=_dummy_run, preview=_dummy_run),
        "weights": types.SimpleNamespace(FILES=[WeightFile("dummy/net.safetensors", repo_id="example/dummy",
                                                           filename="net.safetensors", size=1)],
                                         make_test_checkpoints=make_test_checkpoints),
    }
    engine = Engine("dummy", "Dummy engine (test)", "dummy_engine", tab="dummy_tab", tab_title="Dummy tab",
                    help="a dummy engine added in one line")
    register_engine(monkeypatch, engine, **parts)
    tab = types.ModuleType("dummy_tab")
    tab.build = lambda: __import__("gradio").Markdown("dummy tab body")
    monkeypatch.setitem(sys.modules, "dummy_tab", tab)
    return engine


def test_a_dummy_engine_added_once_appears_in_cli_weights_and_ui(monkeypatch, tmp_path):
    _dummy_engine(monkeypatch, tmp_path)
    # the CLI: a subcommand with the engine's flags and the shared ones
    help_text = build_parser().format_help()
    assert "dummy" in help_text and "a dummy engine added in one line" in help_text
    sub = build_parser()._subparsers._group_actions[0].choices["dummy"].format_help()
    for flag in ("--image", "--strength", "--audio", "--out", "--face", "--box", "--point", "--dtype", "--crf"):
        assert flag in sub, flag
    # the weights listing
    assert "dummy" in weights.engines()
    assert [f.local for f in weights.missing("dummy", tmp_path)] == ["dummy/net.safetensors"]
    listing = io.StringIO()
    with redirect_stdout(listing):
        assert cli_main(["weights", "--list", "--engine", "dummy", "--checkpoints", str(tmp_path)]) == 0
    assert "dummy — Dummy engine (test): 1 missing" in listing.getvalue()
    # the UI: its tab with the missing-weights banner, and its Models-tab download endpoint
    from ui.app import build_app

    config = build_app(checkpoints=tmp_path).get_config_file()
    labels = {c["props"].get("label") for c in config["components"] if c["type"] == "tabitem"}
    texts = [str(c["props"].get("value")) for c in config["components"] if c["type"] == "markdown"]
    assert "Dummy tab" in labels and "dummy tab body" in texts
    assert any(t.startswith("### Dummy engine (test): 1 model file(s) needed") for t in texts)
    assert "download_dummy" in {d.get("api_name") for d in config["dependencies"]}


def test_the_dummy_engine_runs_through_the_cli(monkeypatch, tmp_path, capsys):
    engine = _dummy_engine(monkeypatch, tmp_path)
    engine.weights.make_test_checkpoints(tmp_path / "ckpt")  # the job runner checks the engine's weights
    monkeypatch.setenv("MOUTHPIECE_CHECKPOINTS", str(tmp_path / "ckpt"))
    audio = make_tone(tmp_path / "a.wav", seconds=0.5)
    out = tmp_path / "final" / "result.mp4"
    assert cli_main(["dummy", "--image", "face.png", "--audio", str(audio), "--out", str(out), "--box", "1,2,3,4"]) == 0
    assert out.read_bytes() == b"not a video, but a result file"
    assert cli_main(["dummy", "--image", "face.png", "--audio", str(audio), "--out", str(out), "--strength", "5"]) == 2
    assert "Strength must be 0..2, got 5" in capsys.readouterr().err


@pytest.mark.parametrize("value, message", [
    ("1,2,3", "bad face box '1,2,3': expected 4 numbers x1,y1,x2,y2"),
    ("a,b,c,d", "bad face box 'a,b,c,d': expected 4 numbers x1,y1,x2,y2"),
    ("10,10,5,20", "bad face box '10,10,5,20': x2 must be right of x1 and y2 below y1"),
])
def test_box_parsing_is_one_function_with_one_message(value, message):
    with pytest.raises(BadInputError) as failure:
        parse_box(value)
    assert str(failure.value) == message
    assert parse_box("10, 20, 50,60") == parse_box([10, 20, 50, 60]) == [10.0, 20.0, 50.0, 60.0]
    assert parse_point("3,4") == [3.0, 4.0]
    with pytest.raises(BadInputError, match="bad face point 'x,y': expected 2 numbers x,y"):
        parse_point("x,y")


def test_face_choice_is_one_way_only_and_counted_the_same_everywhere(tmp_path):
    audio = AudioOptions(str(make_tone(tmp_path / "a.wav", seconds=0.3)))
    with pytest.raises(BadInputError, match="choose the face one way only: face and box were both given"):
        DummyRequest(image="x", audio=audio, face=1, box=[0, 0, 5, 5]).validate()
    with pytest.raises(BadInputError, match="Face number from the left must be 0 or more, got -2"):
        DummyRequest(image="x", audio=audio, face=-2).validate()
    assert DummyRequest(image="x", audio=audio, box="1,2,3,4").validate().box == [1.0, 2.0, 3.0, 4.0]


def test_bad_output_paths_are_refused_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    cases = [(tmp_path, "is a folder"), (blocker / "out.mp4", "is a file, not a folder"),
             (tmp_path / "out.avi", "use one of .mp4, .mov, .m4v, .mkv")]
    if not __import__("os").access(locked, __import__("os").W_OK):  # root can write anywhere
        cases.append((locked / "out.mp4", "is not writable"))
    for path, message in cases:
        with pytest.raises(BadInputError, match=message):
            check_output(path, (".mp4", ".mov", ".m4v", ".mkv"))
    audio = make_tone(tmp_path / "a.wav", seconds=0.3)
    jobs_before = set(jobs.paths.outputs_dir().glob("*")) if jobs.paths.outputs_dir().exists() else set()
    code = cli_main(["lipdub", "--video", str(audio), "--audio", str(audio), "--out", str(blocker / "o.mp4")])
    assert code == 2 and "is a file, not a folder" in capsys.readouterr().err
    after = set(jobs.paths.outputs_dir().glob("*")) if jobs.paths.outputs_dir().exists() else set()
    assert after == jobs_before  # refused before a job folder was even made


def test_progress_spans_nest_and_counts_report_time_left(tmp_path):
    seen = []
    ctx = jobs.JobContext(tmp_path / "job", progress=lambda f, m: seen.append((round(f, 4), m)))
    with ctx.span(0.2, 0.6):
        ctx.progress(0.5, "half of the first part")
        with ctx.span(0.5, 1.0):
            ctx.progress(0.0, "inner start")
            ctx.progress(1.0, "inner end")
    assert [f for f, _ in seen] == [0.4, 0.4, 0.6]
    seen.clear()
    for done in (1, 2, 3):
        ctx.count(done, 10, "rendering")
        time.sleep(0.01)
    assert seen[0][1] == "rendering 1/10 frames"  # no rate yet
    assert seen[2][1].startswith("rendering 3/10 frames · ") and seen[2][1].endswith(" s left")


def test_nested_stages_do_not_overlap(tmp_path):
    ctx = jobs.JobContext(tmp_path / "job")
    with ctx.stage("outer"):
        time.sleep(0.05)
        with ctx.stage("inner"):
            time.sleep(0.1)
        time.sleep(0.05)
    assert 0.09 <= ctx.timings["inner"] < 0.15
    assert 0.09 <= ctx.timings["outer"] < 0.15  # the inner 0.1 s is not counted again


def test_cache_loads_outside_its_lock():
    cache = ModelCache()
    started, release = threading.Event(), threading.Event()

    def slow_factory():
        started.set()
        release.wait(5)
        return torch.nn.Linear(2, 2)

    loader = threading.Thread(target=cache.get, args=(("slow",), slow_factory))
    loader.start()
    assert started.wait(5)
    t0 = time.perf_counter()
    assert cache.keys() == [] and cache.total_bytes() == 0  # the Settings tab's view, while a model loads
    assert cache.get(("other",), lambda: torch.nn.Linear(1, 1)) is not None  # another model loads meanwhile
    assert time.perf_counter() - t0 < 1.0
    release.set()
    loader.join(5)
    assert set(cache.keys()) == {("slow",), ("other",)}


@pytest.mark.parametrize("placement", ["resident", "offload", "sequential"])
def test_every_placement_computes_the_same(placement):
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))
    x = torch.randn(3, 8)
    expected = reference(x)
    cache = ModelCache()
    copy = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))
    copy.load_state_dict(reference.state_dict())
    model = cache.get(("net", placement), lambda: copy, placement=placement, device="cpu")
    with torch.no_grad(), cache.on_device(model):
        assert torch.allclose(model(x), expected, atol=1e-6)
    (_, where, size), = cache.report()
    assert size == sum(p.numel() * 4 for p in reference.parameters())
    assert where == ("streamed to cpu" if placement == "sequential" else "cpu")
    with pytest.raises(BadInputError, match="unknown placement"):
        cache.get(("x",), lambda: None, placement="everywhere")


def test_request_defaults_are_the_shared_ones():
    """Every engine's request starts from the same defaults for the shared fields."""
    from core.engine import ENGINES

    base = {name: field.default for name, field in EngineRequest.__dataclass_fields__.items()}
    for engine in ENGINES:
        if not engine.generates:
            continue
        fields = engine.request_type.__dataclass_fields__
        for name, default in base.items():
            assert fields[name].default == default, (engine.name, name)
