"""Tab "Batch": a manifest, or several videos / photos with their audio, run one row after another on this machine
(``core.batch``, local runner); the table fills in as rows finish, Stop cancels the batch, and each row's job
re-opens in the Runs panel (Models & settings).

A studio batch goes to ``outputs/<YYYYmmdd-HHMMSS>-batch/`` (``batch.json``, one job folder per row, the results as
``<name>.mp4``). Relative paths in an uploaded manifest resolve against "Media folder" (an upload's own folder is a
temporary one). The Gradio API endpoint ``batch`` streams the same table. Ray is for the command line
(``python -m core batch --ray``).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from core import paths
from core.batch import plan, read_manifest, run_batch
from core.batch.manifest import MEDIA_SUFFIXES, pair_files, scalar
from core.batch.summary import Batch
from core.errors import BadInputError, JobCancelled
from core.jobs import format_seconds
from ui.components import SETTINGS, run_action
from ui.jobs import POLL_SECONDS, _register, _session, _unregister, cancel_session

HEADERS = ["row", "name", "engine", "status", "time", "result"]
ENGINES = [("Lip-dub videos", "lipdub"), ("Animate photos", "portrait"), ("Infinite avatar (photos)", "avatar"),
           ("Expression (photos)", "expression")]


def _path(value: Any) -> str | None:
    """An upload's path: Gradio gives a path string (``type="filepath"``), older clients a file object."""
    if value in (None, ""):
        return None
    return str(value) if isinstance(value, (str, os.PathLike)) else str(value.name)


def table_rows(batch: Batch) -> list[list]:
    """The batch as the tab's table: a link to each finished result (served from outputs/)."""
    rows = []
    for r in batch.rows:
        if r.status == "running":
            status = f"running · {r.message}" if r.message else "running"
        else:
            status = r.status + (" (kept)" if r.reused else "")
        if r.output:
            result = f"[{Path(r.output).name}](/gradio_api/file={r.output})"
        else:
            result = r.error or r.message
        rows.append([r.row, r.name, r.engine, status, format_seconds(r.seconds) if r.seconds else "", result])
    return rows


def settings_from_text(text: str) -> dict[str, Any]:
    """The "Settings for every row" box: one ``field: value`` per line, values read like CSV cells
    (``core.batch.manifest.scalar``: ``audio.rest: off`` sets one audio option to "off")."""
    settings = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise BadInputError(f"settings for every row: write 'field: value' per line, not {line.strip()!r}")
        settings[key.strip()] = scalar(value.strip())
    return settings


def rows_from_inputs(manifest, media_folder: str, engine: str, inputs, voices) -> list:
    """Rows from the manifest, or from the uploaded files paired by stem (one voice: it drives all)."""
    if _path(manifest):
        return read_manifest(_path(manifest), base=media_folder.strip() or None)
    files = [Path(_path(f)) for f in inputs or []]
    voices = [Path(_path(f)) for f in voices or []]
    if not files or not voices:
        raise BadInputError("upload a manifest, or the videos / photos and their audio (one audio drives all)")
    videos = all(f.suffix.lower() in MEDIA_SUFFIXES["video"] for f in files)
    kind = "video" if engine == "lipdub" or (engine == "expression" and videos) else "image"  # lipdub: photos too
    rows, problems = pair_files(engine, files, voices, kind)
    if problems:
        raise BadInputError(f"{problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    return rows


def start_batch(manifest, media_folder, engine, inputs, voices, settings, skip_bad,
                request: gr.Request = None) -> Iterator[tuple[str, list[list]]]:
    """Validate every row, then run the batch on a worker thread, yielding (status line, table) as it goes."""
    defaults = settings_from_text(settings)
    rows = rows_from_inputs(manifest, media_folder, engine, inputs, voices)
    out_dir = paths.outputs_dir() / f"{datetime.now():%Y%m%d-%H%M%S}-batch"
    items = plan(rows, out_dir, {**defaults, **SETTINGS.request_fields(defaults.get("device"), defaults.get("dtype"))})
    bad = [item.error for item in items if item.error]
    if bad and not skip_bad:
        raise BadInputError(bad[0] + (f" (and {len(bad) - 1} more bad rows)" if len(bad) > 1 else "")
                            + ": fix them, or tick Skip bad rows")
    cancel = threading.Event()
    session = _session(request)
    _register(session, cancel)
    state: dict[str, Any] = {}

    def work() -> None:
        try:
            state["batch"] = run_batch(items, out_dir, on_update=lambda b: state.update(live=b), cancel_event=cancel)
        except BaseException as exc:  # noqa: BLE001 - shown by the handler's thread
            state["error"] = exc

    worker = threading.Thread(target=work, name="batch", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            live = state.get("live")
            if worker.is_alive() and live is not None:
                yield live.line(), table_rows(live)
        live = state.get("batch") or state.get("live")
        if isinstance(state.get("error"), JobCancelled):
            yield f"stopped · {live.line()} · resumable", table_rows(live)
            return
        if "error" in state:
            raise state["error"]
        yield f"finished · {live.line()} · {out_dir}", table_rows(live)
    finally:
        if worker.is_alive():   # closed early (Stop, an API cancel, a closed tab): the running row stops
            cancel.set()
        _unregister(session, cancel)


def build() -> None:
    gr.Markdown("Run many jobs one after another: upload a manifest (CSV, JSONL or YAML rows in the `request.json` "
                "vocabulary, see `examples/batch/`), or videos / photos with one audio each (paired by file name) "
                "or one audio for all. Results land in `outputs/<time>-batch/` and open in the Runs panel.")
    with gr.Row():
        with gr.Column():
            manifest = gr.File(label="Manifest (.csv, .jsonl, .yaml)", file_types=[".csv", ".jsonl", ".yaml", ".yml"],
                               type="filepath")
            media_folder = gr.Textbox(label="Media folder", placeholder="where the manifest's relative paths start "
                                                                       "(default: next to the manifest)")
        with gr.Column():
            engine = gr.Dropdown(ENGINES, value="lipdub", label="Engine (for uploaded files)")
            inputs = gr.File(label="Videos or photos", file_count="multiple", type="filepath")
            voices = gr.File(label="Audio (same names, or one for all)", file_count="multiple", type="filepath")
    settings = gr.Textbox(label="Settings for every row (field: value per line)", lines=2,
                          placeholder="batch_size: 4\nbox: [8, 8, 56, 56]\naudio.rest: off")
    skip_bad = gr.Checkbox(label="Skip bad rows (run the rest)", value=False)
    with gr.Row():
        start = gr.Button("Run batch", variant="primary", scale=2)
        stop = gr.Button("Stop", variant="stop", scale=1)
    status = gr.Markdown(elem_classes=["job-status"])
    table = gr.Dataframe(headers=HEADERS, datatype=["number", "str", "str", "str", "str", "markdown"],
                         interactive=False, wrap=True, elem_id="batch-table")
    run = start.click(run_action(start_batch), [manifest, media_folder, engine, inputs, voices, settings, skip_bad],
                      [status, table], api_name="batch")
    stop.click(cancel_session, None, None, cancels=[run], queue=False, api_visibility="private").then(
        lambda: "stopped", None, status, queue=False, api_visibility="private")
