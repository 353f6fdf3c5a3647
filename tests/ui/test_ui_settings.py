"""Models & settings tab actions: settings are validated before they apply, the budget reaches the model cache,
unload empties it, and the weights table reports what is on disk."""
import os
import pytest
import torch

from core import cache, weights
from core.errors import BadInputError
from ui import components
from ui.tabs import settings

LINEAR_BYTES = (256 * 256 + 256) * 4  # nn.Linear(256, 256) in fp32: weight + bias


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    monkeypatch.setattr(cache, "_default", cache.ModelCache())
    monkeypatch.setattr(components, "SETTINGS", components.StudioSettings(device="auto", dtype="fp32"))
    monkeypatch.setattr(settings, "SETTINGS", components.SETTINGS)


def _load_two_models():
    for name in ("first", "second"):
        cache.default_cache().get((name, "cpu", "fp32"), lambda: torch.nn.Linear(256, 256))


def test_budget_applies_to_the_cache_and_evicts_least_recent():
    _load_two_models()
    assert cache.default_cache().total_bytes() == 2 * LINEAR_BYTES
    budget_gb = 1.5 * LINEAR_BYTES / 2**30  # room for one model only
    status = settings.apply_settings("cpu", "fp32", budget_gb)
    assert cache.default_cache().budget_bytes == int(budget_gb * 2**30)
    assert cache.default_cache().keys() == [("second", "cpu", "fp32")]
    assert "Device: cpu → cpu; dtype: fp32" in status and "Loaded models: 1 using" in status
    settings.apply_settings("cpu", "fp32", 0)
    assert cache.default_cache().budget_bytes is None and "memory budget unlimited" in settings.status_markdown()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
@pytest.mark.parametrize("device, dtype, budget, message", [
    ("cpu", "fp64", 1, "unknown precision 'fp64'"),  # fp16 / bf16 run on the CPU now (the one dtype policy)
    ("cuda", "fp32", 1, "no CUDA GPU is available"),
    ("cpu", "fp32", -1, "memory budget must be 0"),
])
def test_bad_choices_change_nothing(device, dtype, budget, message):
    settings.apply_settings("auto", "fp32", 2)
    with pytest.raises(BadInputError, match=message.replace("(", "\\(")):
        settings.apply_settings(device, dtype, budget)
    assert (components.SETTINGS.device, components.SETTINGS.dtype) == ("auto", "fp32")
    assert cache.default_cache().budget_bytes == 2 * 2**30


def test_unload_all_empties_the_cache():
    _load_two_models()
    status = settings.unload_models()
    assert cache.default_cache().keys() == [] and "Loaded models: 0 using 0.00 GiB" in status


def test_weights_rows_report_presence_and_size(tmp_path):
    os.environ["MOUTHPIECE_CHECKPOINTS"] = str(tmp_path)
    engine = weights.engines()[0]
    first, *rest = weights.files(engine)
    (tmp_path / first.local).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / first.local).write_bytes(b"\0" * 2_500_000)
    rows = [row for row in settings.weights_rows() if row[0] == engine]
    assert rows[0][:4] == [engine, first.local, "yes", 2.5]
    assert [row[1:3] for row in rows[1:]] == [[f.local, "MISSING"] for f in rest]
    assert all(row[3] == (round(f.size / 1e6, 1) if f.size else None) for row, f in zip(rows[1:], rest))
    assert f"Checkpoints folder: `{tmp_path}`" in settings.status_markdown()


def test_memory_profile_is_a_studio_default_that_a_tab_left_at_auto_takes():
    """The Settings tab's Memory profile (issue 15): checked before it applies, then every tab whose own memory
    control says "auto" sends it; a tab's explicit choice wins."""
    assert settings.apply_settings("cpu", "fp32", 0, "offload").count("memory profile: offload") == 1
    assert components.SETTINGS.memory == "offload"
    assert components.SETTINGS.request_fields("auto", "auto", "auto")["memory"] == "offload"
    assert components.SETTINGS.request_fields("auto", "auto", "low")["memory"] == "low"
    with pytest.raises(BadInputError, match="^Memory profile must be one of auto | full | offload | low, got 'huge'$"):
        settings.apply_settings("cpu", "fp32", 0, "huge")
    assert components.SETTINGS.memory == "offload"  # nothing changed


def test_the_settings_tab_offers_the_declared_memory_profiles():
    import gradio as gr

    with gr.Blocks() as demo:
        settings.build()
    config = demo.get_config_file()
    memory = [c["props"] for c in config["components"] if c["props"].get("elem_id") == "settings-memory"]
    assert len(memory) == 1 and memory[0]["value"] == "auto" and memory[0]["label"] == "Memory profile"
    assert [c[1] for c in memory[0]["choices"]] == ["auto", "full", "offload", "low"]
