"""Every engine tab shows every parameter its request declares for the studio (``param(..., ui=True)``), as the
control ``ui.params.Form`` makes (elem_id ``<engine>-<field>``) with the declared default, and its API endpoints take
each of them by the field's name."""
import pytest

from core import engine as registry
from core import spec

TABS = [e for e in registry.ENGINES if e.tab and e.generates]


@pytest.fixture(scope="module")
def studio(test_checkpoints):
    from ui.app import build_app

    from ui.components import SETTINGS

    demo = build_app(test_checkpoints)
    yield demo, demo.get_config_file(), demo.get_api_info()
    SETTINGS.checkpoints = None  # build_app set the studio's checkpoints folder for the whole process


def test_every_engine_has_a_tab_here():
    assert {e.name for e in TABS} == {"lipdub", "portrait", "avatar", "expression"}


@pytest.mark.parametrize("engine", TABS, ids=lambda e: e.name)
def test_every_declared_field_has_its_control_with_the_declared_default(engine, studio):
    _, config, api = studio
    by_id = {c["props"].get("elem_id"): c for c in config["components"] if c["props"].get("elem_id")}
    shown = [s for s in spec.specs(engine.request_type) if s.param.ui]
    assert shown, engine.name
    for s in shown:
        elem_id = f"{engine.name}-{s.name.replace('_', '-')}"
        assert elem_id in by_id, f"{engine.name} tab has no control for {s.name}"
        props = by_id[elem_id]["props"]
        value = props.get("value")  # Gradio leaves an empty value (None) out of the config
        assert value == (None if s.required else s.default), (s.name, value, s.default)
        assert props["label"].startswith(s.param.label), (s.name, props["label"])
        if s.param.range is not None and by_id[elem_id]["type"] == "slider":
            assert (props["minimum"], props["maximum"]) == s.param.range, s.name
        if s.param.choices is not None:
            assert [c[1] for c in props["choices"]] == list(s.param.choices), s.name
    for endpoint in (f"/{engine.name}", f"/{engine.name}_preview"):
        names = [p["parameter_name"] for p in api["named_endpoints"][endpoint]["parameters"]]
        assert {s.name for s in shown} <= set(names), endpoint
        assert len(names) == len(set(names)), endpoint


@pytest.mark.parametrize("engine", TABS, ids=lambda e: e.name)
def test_the_advanced_row_is_the_shared_one(engine, studio):
    """Seed, CRF, device and precision: the same declared controls in every tab."""
    from core.request import EngineRequest

    _, config, _ = studio
    by_id = {c["props"].get("elem_id"): c for c in config["components"] if c["props"].get("elem_id")}
    for name in ("seed", "crf", "device", "dtype"):
        props = by_id[f"{engine.name}-{name}"]["props"]
        declared = spec.spec_of(EngineRequest, name)
        assert (props["label"], props["value"]) == (declared.param.label, declared.default), name
