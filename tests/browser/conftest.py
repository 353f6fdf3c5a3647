"""Browser test fixtures: one studio server (`python app.py` on tiny random weights) and one Chromium page at
1400x900 per test module."""
import pytest

from tests.appserver import running_app
from tests.browser.support import CHROMIUM, VIEWPORT
from tests.samples import make_tone, talking_clip


@pytest.fixture(scope="module")
def studio(tmp_path_factory, test_checkpoints):
    base = tmp_path_factory.mktemp("studio_browser")
    media = {
        "clip": talking_clip(base / "clip.mp4", seconds=0.4, size=(128, 128)),
        # A long take (Stop has time to act); End = 0.8 s trims it for the job that runs to the end.
        "voice": make_tone(base / "speech_take_03_final_mix.wav", seconds=8.0, hz=220.0),
    }
    with running_app(base, test_checkpoints) as url:
        yield {"url": url, "outputs": base / "out", **media}


@pytest.fixture(scope="module")
def page(studio):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing (apt-get install -y chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(studio["url"], wait_until="domcontentloaded", timeout=60_000)
            yield page
        finally:
            browser.close()
