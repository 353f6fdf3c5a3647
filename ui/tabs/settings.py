"""Models & settings: which model files are present (with downloads), device, dtype, memory profile and budget,
unload."""
from __future__ import annotations

import gradio as gr
import torch

from core import runs, weights
from core.cache import default_cache
from core.device import resolve_device, resolve_dtype
from core.errors import BadInputError
from core.request import EngineRequest
from core.spec import check_value, spec_of
from ui.components import SETTINGS, download_queue, download_weights, engine_title, run_action
from ui.params import control

GIB = 2**30
TABLE_HEADERS = ["engine", "file", "present", "size (MB)", "source"]


def weights_rows() -> list[list]:
    root = weights.root_dir(SETTINGS.checkpoints)
    rows = []
    for engine in weights.engines():
        for item in weights.files(engine):
            path = root / item.local
            present = path.is_file()
            size = path.stat().st_size if present else item.size
            rows.append([engine, item.local, "yes" if present else "MISSING",
                         round(size / 1e6, 1) if size else None, item.source])
    return rows


def _device_line(name: str) -> str:
    device = resolve_device(name)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{name} → cuda ({props.name}, {props.total_memory / GIB:.0f} GiB)"
    return f"{name} → {device.type}"


def status_markdown() -> str:
    cache = default_cache()
    budget = f"{cache.budget_bytes / GIB:.1f} GiB" if cache.budget_bytes else "unlimited"
    root = weights.root_dir(SETTINGS.checkpoints)
    test = " — **tiny random TEST weights: output is noise**" if weights.is_test_checkpoints(root) else ""
    return (f"- Checkpoints folder: `{root}`{test}\n"
            f"- Device: {_device_line(SETTINGS.device)}; dtype: {SETTINGS.dtype}; memory profile: {SETTINGS.memory}\n"
            f"- Loaded models: {len(cache.keys())} using {cache.total_bytes() / GIB:.2f} GiB; memory budget {budget}"
            + _placement_line(cache))


def _placement_line(cache) -> str:
    """Where the loaded weights are: bytes per place (a device, "cpu", or streamed layer by layer)."""
    places: dict[str, int] = {}
    for _key, where, size in cache.report():
        places[where] = places.get(where, 0) + size
    return "".join(f"\n  - {where}: {size / GIB:.2f} GiB" for where, size in sorted(places.items()))


def apply_settings(device: str, dtype: str, budget_gb: float | None, memory: str | None = None) -> str:
    """Validate before applying, so a bad choice (cuda without a GPU, bf16 on a GPU without it, an unknown memory
    profile) changes nothing. ``memory``: the studio-wide profile a tab left at "auto" takes (None: unchanged)."""
    resolve_dtype(dtype, resolve_device(device))
    if budget_gb is None or budget_gb < 0:
        raise BadInputError("memory budget must be 0 (unlimited) or a positive number of GB")
    if memory is not None:
        check_value(spec_of(EngineRequest, "memory"), memory)
    default_cache().set_budget(int(budget_gb * GIB) if budget_gb else None)
    SETTINGS.device, SETTINGS.dtype = device, dtype
    if memory is not None:
        SETTINGS.memory = memory
    return status_markdown()


def unload_models() -> str:
    count = len(default_cache().keys())
    default_cache().unload_all()
    gr.Info(f"unloaded {count} model(s)")
    return status_markdown()


def _download_action(engine: str):
    def download(progress=gr.Progress()):
        return download_weights(engine, progress), weights_rows(), status_markdown()

    return download


RUN_HEADERS = ["job", "started", "engine", "status", "result", "total (s)", "parameters"]


def runs_rows() -> list[list]:
    """One row per past job under outputs/, newest first."""
    rows = []
    for run in runs.list_runs():
        total = run.timings.get("total")
        rows.append([run.job_id, run.started.strftime("%Y-%m-%d %H:%M:%S") if run.started else "", run.engine,
                     run.status, run.kind or (run.error[:60] if run.status == "failed" else ""),
                     round(total, 1) if total else None, run.parameters()])
    return rows


def open_run(job_id: str) -> tuple[str | None, str | None, dict, str]:
    """A past job: its video (or preview picture), its request and its log."""
    run = runs.find_run(job_id)
    log = (run.folder / "log.txt").read_text(encoding="utf-8", errors="replace") if (
        run.folder / "log.txt").is_file() else ""
    video = str(run.output) if run.kind == "video" else None
    picture = str(run.output) if run.kind == "preview" else None
    return video, picture, {"engine": run.engine, "status": run.status, "timings": run.timings,
                            "request": run.request}, log[-4000:]


def rerun(job_id: str, request: gr.Request = None, progress=gr.Progress()):  # noqa: B008 - Gradio injects these
    """Run a past job's request again (a new job folder); streams its progress into the log box, then the result."""
    from ui.jobs import stream_job

    engine, req = runs.rerun_request(runs.find_run(job_id))
    yield from stream_job(engine.name, engine.run, req, request, progress, lambda line: (gr.skip(), line),
                          lambda res: (str(res.output), res.summary()))


def runs_panel() -> None:
    """Past jobs from outputs/ (status, engine, parameters, timings); a click on a row re-opens it."""
    with gr.Accordion("Runs (past jobs in outputs/)", open=False):
        table = gr.Dataframe(runs_rows(), headers=RUN_HEADERS, interactive=False, wrap=True, max_height=320)
        with gr.Row():
            job = gr.Textbox(label="Job", placeholder="click a row, or type a job folder name", scale=3)
            reopen = gr.Button("Open run", scale=1)
            rerun_button = gr.Button("Run again", scale=1)
            refresh = gr.Button("Refresh list", scale=1)
        with gr.Row():
            video = gr.Video(label="Result", interactive=False, height=260)
            picture = gr.Image(label="Preview", type="filepath", interactive=False, height=260)
            with gr.Column():
                request = gr.JSON(label="Request, status and timings")
                log = gr.Textbox(label="Log (last lines)", lines=6, max_lines=12)

    def pick(rows, evt: gr.SelectData):
        row = evt.index[0]
        values = rows.values.tolist() if hasattr(rows, "values") else rows
        return values[row][0]

    reopen.click(run_action(open_run), job, [video, picture, request, log], api_name="open_run")
    rerun_button.click(run_action(rerun), job, [video, log], api_name="rerun")
    table.select(pick, table, job, api_visibility="private").then(
        run_action(open_run), job, [video, picture, request, log], api_visibility="private")
    refresh.click(run_action(runs_rows), None, table, api_name="runs")
    gr.on(triggers=None, fn=runs_rows, inputs=None, outputs=table, api_visibility="private")


def build() -> None:
    status = gr.Markdown(status_markdown())
    with gr.Row():
        device = gr.Dropdown(["auto", "cpu", "cuda"], value=SETTINGS.device, label="Device")
        dtype = gr.Dropdown(["auto", "fp32", "fp16", "bf16"], value=SETTINGS.dtype, label="Precision (dtype)",
                            info="auto = fp16 on a GPU, fp32 on the CPU (half precision on the CPU is slow)")
        budget = gr.Number(value=(default_cache().budget_bytes or 0) / GIB, minimum=0, label="Model memory budget (GB)",
                           info="0 = unlimited; least recently used models are unloaded past it")
        memory = control(EngineRequest, "memory", "settings", value=SETTINGS.memory)
    with gr.Row():
        apply = gr.Button("Apply settings", variant="primary")
        unload = gr.Button("Unload all models")
    apply.click(run_action(apply_settings), [device, dtype, budget, memory], status, api_name="apply_settings")
    unload.click(run_action(unload_models), None, status, api_name="unload_models")

    gr.Markdown("### Model files")
    table = gr.Dataframe(weights_rows(), headers=TABLE_HEADERS, interactive=False, wrap=True)
    download_status = gr.Markdown()
    with gr.Row():
        for engine in weights.engines():
            button = gr.Button(f"Download {engine_title(engine)}")
            button.click(run_action(_download_action(engine)), None, [download_status, table, status],
                         api_name=f"download_{engine}", concurrency_id=download_queue(engine))
        refresh = gr.Button("Refresh")

    def refresh_all():
        return weights_rows(), status_markdown()

    refresh.click(run_action(refresh_all), None, [table, status], api_name="weights_status")
    gr.on(triggers=None, fn=refresh_all, inputs=None, outputs=[table, status], api_visibility="private")
    runs_panel()
