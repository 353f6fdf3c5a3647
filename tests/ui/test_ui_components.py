"""Shared UI helpers: creator errors become one-line gr.Error, progress reaches gr.Progress, ZeroGPU wrapping,
the missing-weights banner and the preset panel."""
import os
import importlib.machinery
import inspect
import sys
import types

import gradio as gr
import pytest

from core import weights
from core.errors import BadInputError, JobCancelled, MissingWeightsError
from core.jobs import JobResult
from ui import components, presets


def test_run_action_maps_errors_to_one_line_gr_error():
    def fails(kind, progress=gr.Progress()):
        raise {"bad": BadInputError("no audio stream in clip.mp4"), "weights": MissingWeightsError("lipdub", ["a.pth"]),
               "cancel": JobCancelled("job cancelled"), "bug": ValueError("boom\nsecond line"),
               "ui": gr.Error("already a UI error")}[kind]

    wrapped = components.run_action(fails)
    assert "progress" in inspect.signature(wrapped).parameters  # gradio still injects gr.Progress
    for kind, message in [("bad", "no audio stream in clip.mp4"),
                          ("weights", ("missing model files for lipdub: a.pth. Use the Download button above the "
                                       "tab (or run python download_weights.py --engine lipdub)")),  # UI words
                          ("cancel", "job cancelled"),
                          ("bug", "unexpected ValueError: boom (details in the console)"),
                          ("ui", "already a UI error")]:
        with pytest.raises(gr.Error) as failure:
            wrapped(kind)
        assert failure.value.message == message
    assert components.run_action(lambda a, b: a + b)(2, 3) == 5


def test_run_action_escapes_html_but_keeps_quotes():
    with pytest.raises(gr.Error) as failure:
        components.run_action(lambda: (_ for _ in ()).throw(BadInputError("file '<x>.mp4' & more")))()
    assert failure.value.message == "file '&lt;x&gt;.mp4' &amp; more"


def test_progress_adapter_clamps_and_passes_the_message():
    calls = []

    class RecordingProgress:  # the gr.Progress call interface: progress(fraction, desc=...)
        def __call__(self, fraction, desc=None):
            calls.append((fraction, desc))

    report = components.progress_adapter(RecordingProgress())
    report(0.25, "decoding")
    report(1.7, "done")
    report(-1, "start")
    assert calls == [(0.25, "decoding"), (1.0, "done"), (0.0, "start")]


def test_report_warnings_shows_each_job_warning():
    result = JobResult(output=None, warnings=["running on tiny random TEST weights: output is noise", "x < y"])
    with pytest.warns(UserWarning) as seen:
        components.report_warnings(result)
    assert [str(w.message) for w in seen] == ["running on tiny random TEST weights: output is noise", "x &lt; y"]


def test_gpu_is_identity_without_spaces_and_wraps_with_it(monkeypatch):
    def job():
        return "ran"

    assert components.gpu(job) is job
    wrapped_with = []
    spaces = types.ModuleType("spaces")
    spaces.__spec__ = importlib.machinery.ModuleSpec("spaces", None)

    def GPU(fn=None, duration=None):
        if fn is None:
            return lambda f: wrapped_with.append(duration) or f
        wrapped_with.append("bare")
        return fn

    spaces.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", spaces)
    assert components.gpu(job)() == "ran" and components.gpu(job, duration=300)() == "ran"
    assert wrapped_with == ["bare", 300]


def _component_props(demo, kind):
    return [c["props"] for c in demo.get_config_file()["components"] if c["type"] == kind]


def test_weights_banner_lists_missing_files_and_hides_when_present(tmp_path):
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(tmp_path)
    expected = [f.local for f in weights.files("lipdub")]
    with gr.Blocks() as demo:
        components.weights_banner("lipdub")
    (group,) = _component_props(demo, "group")
    text = _component_props(demo, "markdown")[0]["value"]
    assert group["visible"] is True
    assert f"{len(expected)} model file(s) needed" in text
    assert f"Missing from `{tmp_path}`: " + ", ".join(f"`{local}`" for local in expected) + "." in text
    assert "python download_weights.py --engine lipdub" in text

    for local in expected:
        (tmp_path / local).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / local).write_bytes(b"x")
    assert components.missing_markdown("lipdub") == ""
    with gr.Blocks() as demo:
        components.weights_banner("lipdub")
    assert _component_props(demo, "group")[0]["visible"] is False


def test_preset_panel_saves_and_loads_through_its_endpoints(tmp_path, monkeypatch):
    from dataclasses import dataclass

    @dataclass
    class Req:
        steps: int = 20
        mode: str = "jaw"

    monkeypatch.setenv("MOUTHPIECE_PRESETS", str(tmp_path))
    with gr.Blocks() as demo:
        steps, mode = gr.Slider(1, 50, value=20, step=1), gr.Dropdown(["jaw", "raw"], value="jaw")
        components.preset_panel("demo", Req, {"steps": steps, "mode": mode})
    fns = {f.api_name: f.fn for f in demo.fns.values()}
    fns["demo_save_preset"]("fast", 8, "raw")
    assert (tmp_path / "demo" / "fast.yaml").read_text() == "steps: 8\nmode: raw\n"
    assert fns["demo_load_preset"]("fast") == [8, "raw"]
    with pytest.raises(gr.Error, match="no preset named 'slow'"):
        fns["demo_load_preset"]("slow")

    # A preset saved elsewhere since the page was built shows up in the list on the next page load.
    presets.save_preset("demo", "from-cli", {"steps": 3}, Req)
    (on_load,) = [f.fn for f in demo.fns.values() if f.api_visibility == "private"]
    assert on_load()["choices"] == ["fast", "from-cli"]
