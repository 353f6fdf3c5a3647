"""A tab's controls from the request's parameter spec (``core.spec``), and the way back from their values to a request.

A tab lays out groups and the few custom widgets; each plain parameter is one call::

    form = Form("lipdub", LipdubRequest)
    with gr.Row():
        form.add("version", "bbox_shift")          # controls from the declarations, in this row
    with gr.Accordion("Advanced", open=False):
        form.add_group("advanced")                 # every declared field of that group not placed yet

``form.inputs`` are the components in order, ``form.names`` the request fields they fill, and
``form.handler(fn, leading)`` gives Gradio a function whose named parameters are those fields (so the API documents
each input by name), calling ``fn(values_by_name, request=..., progress=...)``. ``form.fields(values)`` turns the values
into request fields: empty boxes become the declared default (None for optional fields), numbers are checked later by
``validate()`` with the same message as the CLI.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import gradio as gr

from core import spec

SHARED = ("seed", "crf", "device", "dtype", "memory")  # EngineRequest's fields every tab shows in its Advanced row


def _checked_by_the_request(component: gr.Slider | gr.Number) -> gr.Slider | gr.Number:
    """The control with its range left to the request, not Gradio: an API client sending a value past the range reads
    the same one line as the CLI ("Extra margin below the chin (v1.5) must be 0..40, got 50"), not Gradio's words. In
    the browser the control cannot leave its range anyway. (An instance attribute, not a subclass: Gradio writes type
    stubs next to the module of every component subclass.)"""
    def preprocess(payload: float | None) -> float | int | None:
        return None if payload is None else gr.Number.round_to_precision(payload, component.precision)

    component.preprocess = preprocess
    return component


def control(request_type: type, name: str, elem_prefix: str = "", **overrides: Any) -> gr.components.Component:
    """The studio's control for one declared field: a slider for a bounded number with a step, a number box
    otherwise, a radio or dropdown for choices, a checkbox for a switch, a text box for text. ``overrides`` are the
    component's keywords (``choices`` too: (label, value) pairs in place of the declared ones)."""
    s = spec.spec_of(request_type, name)
    p = s.param
    label = f"{p.label} ({p.unit})" if p.unit and p.unit not in p.label else p.label
    default = None if s.required else s.default
    common: dict[str, Any] = {"label": label, "value": default}
    if elem_prefix:
        common["elem_id"] = f"{elem_prefix}-{name.replace('_', '-')}"
    if p.group == "advanced" and p.help:
        common["info"] = p.help
    widget = p.widget or _default_widget(s)
    choices = overrides.pop("choices", None)  # a tab may label the choices itself (e.g. with a memory estimate)
    common.update(overrides)
    if widget in ("radio", "dropdown"):
        values = p.choices if p.choices is not None else p.suggestions
        labels = p.choice_labels or tuple(str(v) for v in values)
        choices = choices or list(zip(labels, values))
        if widget == "radio":
            return gr.Radio(choices, **common)
        return gr.Dropdown(choices, allow_custom_value=p.choices is None, **common)
    if widget == "checkbox":
        return gr.Checkbox(**common)
    if widget == "slider":
        lo, hi = p.range
        return _checked_by_the_request(gr.Slider(lo, hi, step=p.step, **common))
    if widget == "number":
        lo, hi = p.range or (None, None)
        return _checked_by_the_request(gr.Number(precision=0 if s.type is int else None, minimum=lo, maximum=hi,
                                                 step=p.step or 1, **common))
    if widget == "textarea":
        return gr.Textbox(lines=3, **common)
    return gr.Textbox(**common)


def _default_widget(s: spec.Spec) -> str:
    p = s.param
    if s.type is bool:
        return "checkbox"
    if p.choices is not None:
        return "dropdown" if len(p.choices) > 3 else "radio"
    if p.suggestions:
        return "dropdown"
    if s.type in (int, float):
        bounded = p.range is not None and None not in p.range and p.step is not None and not s.optional
        return "slider" if bounded else "number"
    return "textbox"


class Form:
    """The declared controls of one tab, in the order they were placed (see the module docstring)."""

    def __init__(self, prefix: str, request_type: type) -> None:
        self.prefix = prefix
        self.request_type = request_type
        self.components: dict[str, gr.components.Component] = {}

    def add(self, *names: str, **overrides: Any) -> list[gr.components.Component]:
        """Controls for these fields, created where the call stands in the layout."""
        made = []
        for name in names:
            if name in self.components:
                raise ValueError(f"{self.prefix} tab: {name} is placed twice")
            self.components[name] = control(self.request_type, name, self.prefix, **overrides)
            made.append(self.components[name])
        return made

    def add_group(self, group: str, exclude: Iterable[str] = (), per_row: int = 0) -> list[gr.components.Component]:
        """Every declared field of ``group`` shown in the studio and not placed yet (in declaration order);
        ``per_row``: that many controls side by side in each row (0: as the layout around them places them)."""
        skip = set(exclude) | set(self.components)
        names = [s.name for s in spec.specs(self.request_type)
                 if s.param.ui and s.param.group == group and s.name not in skip]
        if not per_row:
            return self.add(*names)
        made = []
        for start in range(0, len(names), per_row):
            with gr.Row():
                made += self.add(*names[start:start + per_row])
        return made

    def add_shared(self) -> list[gr.components.Component]:
        """The Advanced row every engine has (seed, CRF, device, precision, memory profile), from the shared
        declarations; a tab may have placed some of them itself (the avatar's memory modes)."""
        with gr.Row():
            return self.add(*(name for name in SHARED if name not in self.components))

    @property
    def names(self) -> list[str]:
        return list(self.components)

    @property
    def inputs(self) -> list[gr.components.Component]:
        return list(self.components.values())

    def fields(self, values: dict[str, Any]) -> dict[str, Any]:
        """Request fields from control values: empty means the declared default."""
        out = {}
        for name in self.names:
            value = values.get(name)
            s = spec.spec_of(self.request_type, name)
            if value is None or (isinstance(value, str) and not value.strip() and s.type is not str):
                value = None if s.optional or s.required else s.default
            out[name] = value
        return out

    def handler(self, fn: Callable[..., Any], leading: list[str]) -> Callable[..., Any]:
        """A Gradio handler taking ``leading`` inputs (the tab's custom widgets, by these names), then this form's
        fields, by name, then ``request`` and ``progress`` (injected by Gradio). It calls
        ``fn(values, request=request, progress=progress)`` with ``values`` a dict by name (a generator stays one)."""
        names = [*leading, *self.names]

        def call(*args: Any, **kwargs: Any) -> Any:
            # Gradio passes the inputs, then the injected request and progress, positionally (by signature order)
            values = dict(zip(names, args))
            values.update({k: v for k, v in kwargs.items() if k in names})
            extra = list(args[len(names):]) + [None, None]
            request = kwargs.get("request", extra[0])
            progress = kwargs.get("progress", extra[1])
            return fn(values, request=request, progress=progress)

        if inspect.isgeneratorfunction(fn):
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                yield from call(*args, **kwargs)
        else:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return call(*args, **kwargs)

        # Named parameters so the API documents each input by name; the None defaults tell Gradio that API clients
        # may leave them out (the component's value is used then).
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for n in names]
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params += [inspect.Parameter("request", kind, default=None, annotation=gr.Request),
                   inspect.Parameter("progress", kind, default=gr.Progress())]
        wrapper.__signature__ = inspect.Signature(params)
        wrapper.__annotations__ = {"request": gr.Request}
        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper
