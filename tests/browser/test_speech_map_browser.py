"""The speech map in the studio (Chromium, `python app.py`, tiny random weights): uploading speech to the lip-dub
tab draws the map next to the range and names the rest stretches; the rest controls offer what each engine does."""
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.appserver import running_app
from tests.samples import speech_wav

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def studio(tmp_path_factory, test_checkpoints):
    base = tmp_path_factory.mktemp("speech_map_browser")
    from core.audio import dsp

    x, rate = sf.read(str(speech_wav(base / "s.wav", "Hello there")), dtype="float32")
    x = dsp.resample(x, rate, 16000)
    loud = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[loud[0]:loud[-1] + 1]
    voice = base / "pause.wav"
    sf.write(voice, np.concatenate([x, np.zeros(16000, np.float32), x]), 16000)  # speech, 1 s pause, speech
    with running_app(base, test_checkpoints) as url:
        yield {"url": url, "voice": voice, "pause": (len(x) / 16000, len(x) / 16000 + 1)}


def test_speech_map_shows_on_upload(studio, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing (apt-get install -y chromium; .ci/run installs it)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(studio["url"], wait_until="domcontentloaded", timeout=60_000)
            page.get_by_role("tab", name="Lip-dub a video").click()
            page.locator("#lipdub-audio input[type=file]").set_input_files(str(studio["voice"]))
            selector = "#lipdub-speech-map img"
            page.wait_for_function(f"(() => {{ const i = document.querySelector('{selector}'); "
                                   "return i && i.complete && i.naturalWidth > 0; })()", timeout=60_000)
            assert page.evaluate(f"document.querySelector('{selector}').naturalWidth") == 800
            box = page.locator(selector).bounding_box()
            assert box["width"] > 200 and box["height"] > 40
            summary = page.locator("#lipdub-rest-summary")
            expect(summary).to_contain_text("The face rests at", timeout=30_000)
            spans = [tuple(map(float, m)) for m in re.findall(r"(\d+\.\d+)–(\d+\.\d+) s", summary.inner_text())]
            assert len(spans) == 1 and all(abs(a - b) <= 0.1 for a, b in zip(spans[0], studio["pause"])), spans
            expect(page.get_by_text("Keep the source frames").locator("visible=true")).to_have_count(1)
            page.screenshot(path=str(tmp_path / "speech-map.png"))
            page.get_by_text("Off: follow every sound").locator("visible=true").click()
            expect(summary).to_contain_text("Rest is off", timeout=30_000)
            page.get_by_role("tab", name="Animate a photo").click()
            expect(page.get_by_text("Keep the source frames").locator("visible=true")).to_have_count(0)
        finally:
            browser.close()
