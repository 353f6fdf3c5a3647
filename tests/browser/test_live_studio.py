"""Issue 17 in Chromium on `python app.py` with tiny random weights: Generate's result grows while it renders (the
first segment plays before the job ends), and the Live tab lip-dubs a fake microphone (a speech file) onto an idle
video, stops on Stop and frees the GPU."""
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from tests.appserver import running_app
from tests.samples import speech_wav, talking_clip

CHROMIUM = Path("/usr/bin/chromium")
BOX = (32, 24, 96, 112)  # random weights find no face: a manual box on the 128x128 clip


@pytest.fixture(scope="module")
def studio(tmp_path_factory, test_checkpoints):
    base = tmp_path_factory.mktemp("live_browser")
    media = {"clip": talking_clip(base / "idle.mp4", seconds=0.8, size=(128, 128)),
             "speech": speech_wav(base / "speech.wav")}
    with running_app(base, test_checkpoints) as url:
        yield {"url": url, "outputs": base / "out", **media}


def _browser(pw, *args):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing (apt-get install -y chromium; .ci/run installs it)")
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", *args])


def test_generate_shows_the_first_segment_before_the_job_ends(studio, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(studio["url"], wait_until="domcontentloaded", timeout=60_000)
            page.get_by_role("tab", name="Lip-dub a video").click()
            page.locator("#lipdub-video input[type=file]").set_input_files(str(studio["clip"]))
            page.locator("#lipdub-audio input[type=file]").set_input_files(str(studio["speech"]))
            page.get_by_text("Mask and face", exact=True).click()
            page.get_by_label("Manual box x1,y1,x2,y2 (skips detection)").fill(",".join(map(str, BOX)))
            page.get_by_role("button", name="Generate", exact=True).locator("visible=true").click()
            # The first segment plays (readyState >= 2: HAVE_CURRENT_DATA) ...
            page.wait_for_function("(() => { const v = document.querySelector('#lipdub-result-stream video'); "
                                   "return v && v.readyState >= 2 && v.duration > 0.5; })()", timeout=240_000)
            page.screenshot(path=str(tmp_path / "streamed.png"))
            # ... while the job still runs: no final file yet, the status line still counts frames.
            assert not list(studio["outputs"].glob("*-lipdub-*/status.json"))
            expect(page.locator("[data-testid=markdown].job-status:visible")).to_contain_text("frames")
            assert list(studio["outputs"].glob("*-lipdub-*/segments/segment_0000.mp4"))
            page.get_by_role("button", name="Stop", exact=True).locator("visible=true").click()
            expect(page.locator("#lipdub-result-stream")).to_be_hidden(timeout=30_000)
        finally:
            browser.close()


def _job(outputs: Path, timeout: float = 120) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = sorted(outputs.glob("*-lipdub-live-*"))
        if found:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError("no live session folder")


def test_live_tab_speaks_with_a_fake_microphone(studio, tmp_path):
    """The mouth region of the streamed frames changes while the speech plays; the rest of each frame is the idle
    frame (H.264 noise only); Stop ends the session (status.json "cancelled") and a new Start gets the GPU."""
    from playwright.sync_api import expect, sync_playwright

    from core.engines.lipdub.source import pingpong
    from core.media import iter_video_frames

    fake = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={studio['speech']}"]
    with sync_playwright() as pw:
        browser = _browser(pw, *fake)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, permissions=["microphone"])
            page = context.new_page()
            page.goto(studio["url"], wait_until="domcontentloaded", timeout=60_000)
            page.get_by_role("tab", name="Live", exact=True).click()
            page.locator("#live-idle input[type=file]").set_input_files(str(studio["clip"]))
            page.locator("#live-box textarea, #live-box input").first.fill(",".join(map(str, BOX)))
            page.locator("#live-start").click()
            status = page.locator("#live-status")
            expect(status).to_contain_text("press Record", timeout=180_000)
            page.locator("#live-mic").get_by_role("button", name="Record").click()
            expect(status).to_contain_text("frames", timeout=120_000)
            page.wait_for_function("(() => { const v = document.querySelector('#live-out video'); "
                                   "return v && v.readyState >= 2; })()", timeout=120_000)
            page.screenshot(path=str(tmp_path / "live.png"))
            job = _job(studio["outputs"])
            deadline = time.time() + 120
            while len(list((job / "stream").glob("*.mp4"))) < 3 and time.time() < deadline:
                time.sleep(0.5)
            page.locator("#live-stop").click()
            expect(status).to_contain_text("stopped: the GPU is free", timeout=30_000)
            assert json.loads((job / "status.json").read_text())["status"] == "cancelled"

            idle = np.stack(list(iter_video_frames(studio["clip"]))).astype(np.float64)
            segments = sorted((job / "stream").glob("segment_*.mp4"))
            frames = np.concatenate([np.stack(list(iter_video_frames(s))) for s in segments]).astype(np.float64)
            assert len(frames) >= 5  # CPU, tiny weights: a few frames a second
            base = idle[[pingpong(i, len(idle)) for i in range(len(frames))]]
            x1, y1, x2, y2 = BOX
            outside = np.ones(frames.shape[1:3], dtype=bool)
            outside[y1 - 2:y2 + 2, x1 - 2:x2 + 2] = False
            mse = ((frames[:, outside] - base[:, outside]) ** 2).mean()
            assert 10 * np.log10(255 ** 2 / mse) > 30, mse  # the idle video, re-encoded
            mouth = np.abs(frames[:, (y1 + y2) // 2:y2, x1:x2] - base[:, (y1 + y2) // 2:y2, x1:x2]).mean(axis=(1, 2, 3))
            assert mouth.min() > 5, mouth  # dubbed in every frame
            assert np.abs(np.diff(mouth)).max() > 0.5  # and changing with the sound

            page.locator("#live-start").click()  # the GPU lock was released: a new session opens (the fake
            # microphone may already be feeding it, so its first line or its running count, not a refusal)
            expect(status).to_contain_text(re.compile(r"press Record|live · \d+ frames"), timeout=60_000)
            page.locator("#live-stop").click()
            expect(status).to_contain_text("stopped", timeout=30_000)
        finally:
            browser.close()
