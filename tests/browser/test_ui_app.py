"""The studio as a creator meets it: `python app.py` serves the page, the API names are stable, errors do not kill it,
and a headless Chromium sees the tabs."""
import importlib.machinery
import importlib.util
import json
import re
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from core.engine import Engine
from tests.appserver import free_port, register_engine, running_app
from ui.app import tabs

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
TABS = [title for title, _module, _engine in tabs()]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` on a free port with an empty checkpoints folder, as a fresh machine would have."""
    base = tmp_path_factory.mktemp("ui_server")
    with running_app(base, base / "ckpt") as url:
        yield {"url": url, "ckpt": base / "ckpt"}


def test_serves_page_and_config_lists_api_names(server):
    with urllib.request.urlopen(server["url"], timeout=10) as response:
        assert response.status == 200
        assert "<html" in response.read().decode("utf-8", "replace").lower()
    with urllib.request.urlopen(server["url"] + "config", timeout=10) as response:
        config = json.load(response)
    public = {d["api_name"] for d in config["dependencies"] if d.get("api_visibility", "public") == "public"}
    from core import weights

    expected = {"apply_settings", "unload_models", "weights_status"} | {f"download_{e}" for e in weights.engines()}
    for tab in ("lipdub", "portrait"):  # plugged in by the shell once landed
        if importlib.util.find_spec(f"ui.tabs.{tab}"):
            expected |= {tab, f"{tab}_preview", f"{tab}_save_preset", f"{tab}_load_preset"}
    assert expected <= public
    labels = {c.get("props", {}).get("label") for c in config["components"] if c.get("type") == "tabitem"}
    assert set(TABS) <= labels
    assert TABS == ["Lip-dub a video", "Animate a photo", "Infinite avatar", "Expression control", "Live", "Batch",
                    "Models & settings"]


def test_api_errors_are_one_line_and_the_app_keeps_serving(server):
    from gradio_client import Client

    client = Client(server["url"], verbose=False)
    if not torch.cuda.is_available():  # CUDA on a CPU-only machine is refused, nothing changes
        with pytest.raises(Exception) as failure:
            client.predict("cuda", "fp16", 1.0, api_name="/apply_settings")
        assert str(failure.value) == "no CUDA GPU is available: choose cpu (or auto) as the device"
    with pytest.raises(Exception) as failure:  # offline download names the missing files
        client.predict(api_name="/download_lipdub")
    assert str(failure.value).startswith("missing model files for lipdub: ") and "\n" not in str(failure.value)

    status = client.predict("cpu", "fp32", 1.5, api_name="/apply_settings")
    assert f"Checkpoints folder: `{server['ckpt']}`" in status
    assert "Device: cpu → cpu; dtype: fp32" in status and "memory budget 1.5 GiB" in status
    table, status = client.predict(api_name="/weights_status")
    rows = table["data"]
    assert rows and all(row[2] == "MISSING" for row in rows)  # the checkpoints folder is empty
    assert {row[0] for row in rows} == set(__import__("core.weights", fromlist=["engines"]).engines())


def test_chromium_sees_the_tabs(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing (apt-get install -y chromium; .ci/run installs it)")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        try:
            # Files that arrive after the server started (e.g. via download_weights.py) show on the next page load.
            from core import weights

            engine = weights.engines()[0]
            arrived = weights.files(engine)[0].local  # the table's first row
            (server["ckpt"] / arrived).parent.mkdir(parents=True, exist_ok=True)
            (server["ckpt"] / arrived).write_bytes(b"x")
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server["url"], wait_until="domcontentloaded", timeout=60_000)
            for title in TABS:
                expect(page.get_by_role("tab", name=title)).to_be_visible(timeout=60_000)
            page.get_by_role("tab", name="Models & settings").click()
            folder = page.get_by_role("listitem").filter(has_text="Checkpoints folder:")
            expect(folder).to_contain_text(str(server["ckpt"]), timeout=30_000)
            expect(page.get_by_role("gridcell", name="MISSING").first).to_be_visible(timeout=30_000)
            row = re.compile(f"^{engine} {re.escape(arrived)} yes ".replace("/", "\\/"))  # Playwright wants \/
            expect(page.get_by_role("row", name=row)).to_be_visible()
            if not torch.cuda.is_available():  # a refused setting shows its one-line message; the page stays usable
                page.get_by_role("combobox", name="Device").click()
                page.get_by_role("option", name="cuda", exact=True).click()
                page.get_by_role("button", name="Apply settings").click()
                expect(page.get_by_text("no CUDA GPU is available: choose cpu (or auto) as the device")
                       ).to_be_visible(timeout=30_000)
            # A fresh machine: every engine tab names its missing files next to a Download button.
            for tab, _module, engine in [t for t in tabs() if t[2]]:
                page.get_by_role("tab", name=tab).click()
                title = weights.title(engine)
                count = len(weights.missing(engine, server["ckpt"]))
                expect(page.get_by_role("heading", name=f"{title}: {count} model file(s) needed", exact=True)
                       ).to_be_visible()
                expect(page.get_by_role("button", name=f"Download {title} weights")).to_be_visible()
            page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)
            assert (tmp_path / "studio.png").stat().st_size > 10_000
        finally:
            browser.close()


def test_one_click_download_with_progress(tmp_path, monkeypatch):
    """The Models & settings Download button fetches an engine's files (here from a local HTTP server) and reports
    progress through gr.Progress while it runs."""
    import http.server
    import threading
    import types

    from gradio_client import Client

    from core.weights import WeightFile
    from ui.app import build_app, launch_options

    payload = bytes(range(256)) * 12_000  # 3 MB: several 1 MiB chunks, so several progress updates
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "tiny.bin").write_bytes(payload)

    class SlowHandler(http.server.SimpleHTTPRequestHandler):
        """Serves in 512 KiB steps 0.1 s apart, like a real connection, so progress can be watched."""

        def __init__(self, *args):
            super().__init__(*args, directory=str(tmp_path / "site"))

        def copyfile(self, source, outputfile):
            while chunk := source.read(1 << 19):
                outputfile.write(chunk)
                outputfile.flush()
                time.sleep(0.1)

        def log_message(self, *args):
            pass

    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()

    manifest = types.ModuleType("tiny_engine.weights")
    manifest.FILES = [WeightFile("tiny/tiny.bin", url=f"http://127.0.0.1:{http_server.server_port}/tiny.bin",
                                 size=len(payload))]
    register_engine(monkeypatch, Engine("tiny", "Tiny test engine", "tiny_engine", generates=False),
                    weights=manifest)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    demo = build_app(checkpoints=tmp_path / "ckpt")
    port = free_port()
    demo.queue(default_concurrency_limit=1).launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                                                   quiet=True, **launch_options())
    try:
        job = Client(f"http://127.0.0.1:{port}/", verbose=False).submit(api_name="/download_tiny")
        progress = set()
        while not job.done():
            for unit in (job.status().progress_data or []):
                progress.add((unit.desc, round(unit.progress, 2)))
            time.sleep(0.02)
        message, table, _status = job.result()
    finally:
        demo.close()
        http_server.shutdown()
    assert message == "Tiny test engine: downloaded 1 file(s)."
    assert (tmp_path / "ckpt" / "tiny" / "tiny.bin").read_bytes() == payload
    assert ["tiny", "tiny/tiny.bin", "yes", 3.1] == table["data"][-1][:4]
    assert {desc for desc, _ in progress} <= {"downloading tiny/tiny.bin (1/1)", "downloading tiny/tiny.bin"}
    assert any(0 < fraction < 1 for _, fraction in progress), progress  # the bar moved while bytes arrived


def test_absent_or_broken_tab_modules_never_stop_the_studio(monkeypatch):
    """A tab module that fails to build or to import is a bug the tab shows (no polite "on its way"); the rest of
    the studio is built."""
    import types

    import ui.app
    from core import engine as registry

    broken = types.ModuleType("broken_tab")
    broken.__spec__ = importlib.machinery.ModuleSpec("broken_tab", None)

    def build():
        raise RuntimeError("face detector exploded\nlong traceback text")

    broken.build = build
    monkeypatch.setitem(sys.modules, "broken_tab", broken)
    monkeypatch.setattr(registry, "ENGINES", [registry.Engine("broken", "Broken", "core.audio", tab="broken_tab"),
                                              registry.Engine("absent", "Absent", "core.audio",
                                                              tab="ui.tabs.not_written_yet")])
    config = ui.app.build_app().get_config_file()
    texts = [c["props"].get("value") for c in config["components"] if c["type"] == "markdown"]
    assert "### Broken could not start\n`RuntimeError: face detector exploded`\n\n" \
           "The other tabs work; the console has the details." in texts
    assert "### Absent could not start\n`ModuleNotFoundError: No module named 'ui.tabs.not_written_yet'`\n\n" \
           "The other tabs work; the console has the details." in texts
    assert "apply_settings" in {d["api_name"] for d in config["dependencies"]}  # the rest of the studio is built
