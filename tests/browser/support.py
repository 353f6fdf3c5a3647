"""What the browser tests share: the constants of the test media and the checks a creator's eye makes (sizes, what is
on screen, job status files). The studio server and the Chromium page are fixtures in conftest.py."""
import json
import re
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1400, "height": 900}
STATUS = "[data-testid=markdown].job-status:visible"
LIPDUB_BOX = "32,24,96,112"  # random weights find no face: a manual box on the 128x128 clip
PORTRAIT_BOX = "185,70,275,185"  # the astronaut's face


def image_size(page, elem_id: str) -> tuple[float, float, int]:
    """(shown width, shown height, natural width) of the picture inside a gr.Image, once it has loaded."""
    selector = f"#{elem_id} img"
    page.wait_for_function(f"(() => {{ const i = document.querySelector('{selector}'); "
                           "return i && i.complete && i.naturalWidth > 0; })()", timeout=60_000)
    box = page.locator(selector).bounding_box()
    return box["width"], box["height"], page.evaluate(f"document.querySelector('{selector}').naturalWidth")


def assert_main_path_on_screen(page, ids: list[str]) -> None:
    """Scrolled to the top, each element of the main path lies wholly inside the 1400x900 viewport."""
    from playwright.sync_api import expect

    page.evaluate("window.scrollTo(0, 0)")
    for elem_id in ids:
        expect(page.locator(f"#{elem_id}")).to_be_in_viewport(ratio=1.0)
    for name in ("Generate", "Stop"):
        button = page.get_by_role("button", name=name, exact=True).locator("visible=true")
        expect(button).to_be_in_viewport(ratio=1.0)
        assert on_top(page, button), f"something (a toast?) covers {name}"


def on_top(page, locator) -> bool:
    """The element itself is what the browser finds at its centre (nothing drawn over it)."""
    box = locator.bounding_box()
    return locator.evaluate("(e, p) => e.contains(document.elementFromPoint(p[0], p[1]))",
                            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])


def assert_name_shown_whole(page, elem_id: str, name: str) -> None:
    """The uploaded file's name is shown, not cut short with an ellipsis."""
    from playwright.sync_api import expect

    expect(page.locator(f"#{elem_id} .filename")).to_have_attribute("aria-label", name, timeout=30_000)
    stem = page.locator(f"#{elem_id} .filename .stem")
    assert stem.evaluate("e => e.scrollWidth <= e.clientWidth"), f"{name} is cut short in #{elem_id}"


def status_of(outputs: Path, engine: str, wanted: str, timeout: float = 60) -> dict:
    """The status.json of this engine's job that reached ``wanted`` (waits for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in outputs.glob(f"*-{engine}-*/status.json"):
            status = json.loads(path.read_text())
            if status["status"] == wanted:
                return status
        time.sleep(0.2)
    raise AssertionError(f"no {engine} job reached {wanted!r} in {timeout:.0f} s")


def generate_then_stop(page, engine: str, outputs: Path, shots: Path, progress: str = "frames") -> None:
    """Generate; the progress line (naming ``progress``) shows in the viewport; Stop ends the job as "cancelled"."""
    from playwright.sync_api import expect

    generate = page.get_by_role("button", name="Generate", exact=True).locator("visible=true")
    stop = page.get_by_role("button", name="Stop", exact=True).locator("visible=true")
    generate.click()
    expect(stop).to_be_enabled(timeout=10_000)
    expect(generate).to_be_disabled()
    status = page.locator(STATUS)
    expect(status).to_contain_text(progress, timeout=120_000)  # "12% · rendering 4/200 frames · 40 s left · 3 s ..."
    expect(status).to_be_in_viewport(ratio=1.0)
    # One progress text: the status line, with the share done and the job's own elapsed time; no overlay on the
    # result with a second text and a timer that restarts at every line.
    expect(status).to_contain_text(re.compile(r"\d+% · .+ · [\w ]+ elapsed"))
    expect(page.locator(f"#{engine}-result")).not_to_contain_text(progress)
    page.screenshot(path=str(shots / f"{engine}-3-progress.png"))
    stop.click()
    expect(status).to_have_text("stopped", timeout=10_000)
    expect(page.get_by_text("job cancelled")).to_have_count(0)  # a Stop the creator asked for is not an error
    assert status_of(outputs, engine, "cancelled")["error"] == "cancelled"
    expect(generate).to_be_enabled()


def generate_to_the_end(page, engine: str, shots: Path) -> None:
    """With End = 0.8 s the job finishes; the result video has a source and the timings replace the progress."""
    from playwright.sync_api import expect

    end = page.get_by_label("End (s), 0 = to the end").locator("visible=true")
    end.fill("0.8")
    end.press("Enter")
    page.get_by_role("button", name="Generate", exact=True).locator("visible=true").click()
    video = page.locator(f"#{engine}-result video")
    page.wait_for_function(f"(() => {{ const v = document.querySelector('#{engine}-result video'); "
                           "return v && v.src; })()", timeout=180_000)
    expect(page.locator(STATUS)).to_contain_text("total", timeout=10_000)
    # The stage timings are folded under "Timings", the visible line says how long the job took.
    timings = page.locator(f"{STATUS} details")
    expect(timings).to_have_count(1)
    assert timings.evaluate("d => !d.open") and "total" in timings.text_content()
    expect(page.locator(STATUS)).to_contain_text(re.compile(r"^\s*done in \d+"))
    assert video.bounding_box()["height"] > 100
    page.screenshot(path=str(shots / f"{engine}-4-result.png"))


def assert_upload_icon_below_label(page, elem_id: str) -> None:
    """An empty upload box shows its upload icon, not hidden under its floating label."""
    label = page.locator(f"#{elem_id} label[data-testid=block-label]").bounding_box()
    icon = page.locator(f"#{elem_id} [data-testid=upload-icon]").bounding_box()
    assert icon["y"] >= label["y"] + label["height"], (elem_id, label, icon)


def track_colour(page, selector: str, share: float) -> tuple[int, int, int]:
    """The colour of a slider's track at ``share`` (0..1) of its width, from a screenshot of the element."""
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB")
    return picture.getpixel((round(share * (picture.width - 1)), picture.height // 2))
