"""What every engine tab shares around its ``ui.params.Form``: the audio panel's inputs by name, the face pickers
(number, click, box) and the click that picks a face or starts a box, the request fields with the studio's
settings, and the finished job's line with its timings folded.

A tab's handler inputs are ``[*custom widgets, *form.inputs]`` with the names ``[*leading, *form.names]``
(``form.handler``); :func:`request_fields` turns the values back into request fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from core.audio.options import AudioOptions
from core.jobs import JobResult, format_seconds
from core.request import parse_box, parse_point
from ui.audio_panel import AudioPanel, options_from_values
from ui.components import SETTINGS
from ui.params import Form

# The audio panel's inputs as the API names them (``AudioPanel.inputs`` order).
AUDIO_NAMES = ("audio", "start", "end", "separate_vocals", "keep_audio", "keep_file", "normalize", "rest",
               "rest_min_pause")


def path_of(value: Any) -> str | None:
    """A file input's value as a path (None when empty)."""
    if value in (None, ""):
        return None
    return str(getattr(value, "name", value))


def audio_inputs(panel: AudioPanel) -> tuple[list[str], list]:
    """The panel's input names and components, for a handler's leading inputs."""
    if len(panel.inputs) != len(AUDIO_NAMES):
        raise RuntimeError(f"the audio panel has {len(panel.inputs)} inputs; ui.tabparts.AUDIO_NAMES names "
                           f"{len(AUDIO_NAMES)}: name the new ones there")
    return list(AUDIO_NAMES), panel.inputs


def audio_options(values: dict[str, Any]) -> AudioOptions:
    return options_from_values(*(values.get(name) for name in AUDIO_NAMES))


def request_fields(form: Form, values: dict[str, Any]) -> dict[str, Any]:
    """The form's request fields, device, precision and memory profile left at "auto" taking the studio's settings
    (and its checkpoints folder)."""
    fields = form.fields(values)
    return {**fields, **SETTINGS.request_fields(fields.get("device"), fields.get("dtype"), fields.get("memory"))}


@dataclass
class FacePicker:
    """Which face: a number from the left (-1 = the largest), the face under a clicked point, or a manual box."""

    face: gr.Number
    point: gr.Textbox | None
    box: gr.Textbox
    point_name: str = "point"

    @property
    def names(self) -> list[str]:
        return ["face", *([self.point_name] if self.point is not None else []), "box"]

    @property
    def inputs(self) -> list:
        return [self.face, *([self.point] if self.point is not None else []), self.box]


def face_picker(box_label: str, point_label: str | None = None, point_name: str = "point") -> FacePicker:
    """The face controls in one row (``point_label`` None: no point box)."""
    with gr.Row():
        face = gr.Number(value=-1, precision=0, label="Face number from the left (-1 = largest)")
        point = gr.Textbox(label=point_label, placeholder="e.g. 320,180") if point_label else None
        box = gr.Textbox(label=box_label, placeholder="x1,y1,x2,y2")
    return FacePicker(face, point, box, point_name)


def face_fields(values: dict[str, Any], point_name: str = "point") -> dict[str, Any]:
    """face / point / box for the request, through the CLI's parsers: a box wins over a point, a point over the
    number (-1 or empty = the largest face)."""
    face, point, box = values.get("face"), values.get(point_name), values.get("box")
    return {"face": int(face) if face not in (None, "") and int(face) >= 0 and not (point or box) else None,
            "point": parse_point(point) if point and not box else None,
            "box": parse_box(box) if box else None}


BOX_SHARE = 0.4  # a box started by a click with no detected face: this share of the picture's shorter side


def click_to_face(xy: tuple[float, float], file_size: tuple[int, int], shown_size: tuple[int, int],
                  faces_found: bool) -> tuple[str, str]:
    """A click on a picture drawn at ``shown_size`` of a file of ``file_size`` pixels, as (point, box) texts in the
    file's pixels. Where faces were detected the click picks the one under it (a point); where none was, a click
    cannot pick one, so it starts a square box around the click (BOX_SHARE of the shorter side, kept inside the
    picture), to adjust in the box field or by clicking again."""
    scale = file_size[0] / shown_size[0] if shown_size[0] else 1.0
    x, y = xy[0] * scale, xy[1] * scale
    if faces_found:
        return f"{round(x)},{round(y)}", ""
    width, height = file_size
    half = BOX_SHARE * min(width, height) / 2
    cx, cy = min(max(x, half), width - half), min(max(y, half), height - half)
    return "", f"{round(cx - half)},{round(cy - half)},{round(cx + half)},{round(cy + half)}"


def finished(result: JobResult, *extra: str) -> str:
    """The status line of a finished job: how long it took, then its stage timings folded (``<details>``)."""
    total = result.timings.get("total")
    head = " · ".join(["done" + (f" in {format_seconds(total)}" if total is not None else ""), *extra])
    return f"{head}\n\n<details><summary>Timings</summary>\n\n{result.summary()}\n\n</details>"
