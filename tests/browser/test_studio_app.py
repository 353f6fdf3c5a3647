"""Each engine tab as a creator uses it in Chromium at 1400x900, on `python app.py` with tiny random weights: the main
path (inputs, Preview / Generate / Stop, previews, result) fits the screen without scrolling; Preview shows its images
at a real size; Generate streams its progress line where the creator is looking; Stop cancels the job (status.json
says "cancelled"); a finished job's video has a source to play.

Screenshots of each step land in the test's temporary folder (``<tab>-*.png``)."""
import json
import time

import pytest

from tests.browser.support import (
    LIPDUB_BOX,
    PORTRAIT_BOX,
    STATUS,
    VIEWPORT,
    assert_main_path_on_screen,
    assert_name_shown_whole,
    assert_upload_icon_below_label,
    generate_then_stop,
    generate_to_the_end,
    image_size,
)
from tests.samples import make_tone, portrait_path


def test_lipdub_tab(page, studio, tmp_path):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Lip-dub a video").click()
    assert_upload_icon_below_label(page, "lipdub-audio")
    page.locator("#lipdub-video input[type=file]").set_input_files(str(studio["clip"]))
    page.locator("#lipdub-audio input[type=file]").set_input_files(str(studio["voice"]))
    page.get_by_text("Off: follow every sound").locator("visible=true").click()  # a tone holds no speech
    assert_name_shown_whole(page, "lipdub-audio", "speech_take_03_final_mix.wav")
    assert image_size(page, "lipdub-thumb")[2] == 128  # the input's frame 0 as a thumbnail
    page.screenshot(path=str(tmp_path / "lipdub-1-inputs.png"))
    assert_main_path_on_screen(page, ["lipdub-video", "lipdub-audio", "lipdub-overlay", "lipdub-result"])

    # Random weights detect no face: the preview shows frame 0, and a click on the face starts a box around it.
    page.get_by_role("button", name="Preview first frame").click()
    expect(page.get_by_text("click the face on the preview to put a box around it")).to_be_visible(timeout=60_000)
    assert image_size(page, "lipdub-overlay")[2] == 128
    page.locator("#lipdub-overlay img").click()  # the middle of the 128x128 frame
    page.get_by_text("Mask and face", exact=True).click()
    box = page.get_by_label("Manual box x1,y1,x2,y2 (skips detection)")
    expect(box).not_to_have_value("", timeout=10_000)
    x1, y1, x2, y2 = (float(v) for v in box.input_value().split(","))
    assert x2 - x1 == y2 - y1 == pytest.approx(0.4 * 128, abs=1) and x1 < 64 < x2 and y1 < 64 < y2, (x1, y1, x2, y2)
    assert page.get_by_label("Face at point x,y (click the overlay)").input_value() == ""
    box.fill(LIPDUB_BOX)  # the clip's own face box
    page.get_by_text("Mask and face", exact=True).click()  # folded again: the main path stays on one screen
    page.get_by_role("button", name="Preview first frame").click()
    for elem_id in ("lipdub-overlay", "lipdub-dubbed"):
        width, height, natural = image_size(page, elem_id)
        assert width > 50 and height > 50 and natural == 128, (elem_id, width, height, natural)
    expect(page.get_by_text("Suggested bbox_shift range: n/a (manual box)")).to_be_visible()
    page.screenshot(path=str(tmp_path / "lipdub-2-preview.png"))
    assert_main_path_on_screen(page, ["lipdub-video", "lipdub-overlay", "lipdub-dubbed", "lipdub-result"])

    generate_then_stop(page, "lipdub", studio["outputs"], tmp_path)
    generate_to_the_end(page, "lipdub", tmp_path)
    assert_main_path_on_screen(page, ["lipdub-video", "lipdub-audio", "lipdub-result"])


def test_portrait_tab(page, studio, tmp_path):

    from playwright.sync_api import expect

    page.get_by_role("tab", name="Animate a photo").click()
    emotion = page.locator("#portrait-emotion input")
    expect(emotion).to_have_value("None (audio only)")
    assert emotion.evaluate("e => e.scrollWidth <= e.clientWidth"), "the emotion menu's words are cut"
    page.locator("#portrait-image input[type=file]").set_input_files(str(portrait_path()))
    page.locator("#portrait-audio input[type=file]").set_input_files(str(studio["voice"]))
    page.get_by_text("Off: follow every sound").locator("visible=true").click()  # a tone holds no speech
    assert_name_shown_whole(page, "portrait-audio", "speech_take_03_final_mix.wav")
    page.screenshot(path=str(tmp_path / "portrait-1-inputs.png"))
    assert_main_path_on_screen(page, ["portrait-image", "portrait-audio", "portrait-crop", "portrait-result"])

    page.get_by_text("Advanced", exact=True).locator("visible=true").click()
    page.get_by_label("Manual face box x1,y1,x2,y2 (skips detection)").fill(PORTRAIT_BOX)
    page.get_by_text("Advanced", exact=True).locator("visible=true").click()
    page.get_by_role("button", name="Preview face crop + first frame").click()
    for elem_id in ("portrait-crop", "portrait-first"):
        width, height, natural = image_size(page, elem_id)
        assert width > 50 and height > 50 and natural == 512, (elem_id, width, height, natural)
    page.screenshot(path=str(tmp_path / "portrait-2-preview.png"))
    assert_main_path_on_screen(page, ["portrait-image", "portrait-crop", "portrait-first", "portrait-result"])

    generate_then_stop(page, "portrait", studio["outputs"], tmp_path)
    generate_to_the_end(page, "portrait", tmp_path)


def test_closing_the_browser_tab_stops_its_job(page, studio):
    """A creator who closes the tab while a job runs frees the GPU: the page's unload cancels that session's job."""
    from playwright.sync_api import expect

    before = set(studio["outputs"].glob("*-portrait-*"))
    tab = page.context.browser.new_context(viewport=VIEWPORT).new_page()
    tab.goto(studio["url"], wait_until="domcontentloaded", timeout=60_000)
    tab.get_by_role("tab", name="Animate a photo").click()
    tab.locator("#portrait-image input[type=file]").set_input_files(str(portrait_path()))
    tab.locator("#portrait-audio input[type=file]").set_input_files(str(studio["voice"]))
    tab.get_by_text("Off: follow every sound").locator("visible=true").click()  # a tone holds no speech
    tab.get_by_text("Advanced", exact=True).locator("visible=true").click()
    tab.get_by_label("Manual face box x1,y1,x2,y2 (skips detection)").fill(PORTRAIT_BOX)
    tab.get_by_role("button", name="Generate", exact=True).locator("visible=true").click()
    expect(tab.locator(STATUS)).to_contain_text("frames", timeout=120_000)
    tab.close(run_before_unload=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        new = [d for d in studio["outputs"].glob("*-portrait-*") if d not in before]
        statuses = [json.loads((d / "status.json").read_text())["status"] for d in new
                    if (d / "status.json").is_file()]
        if statuses == ["cancelled"]:
            break
        time.sleep(0.2)
    assert statuses == ["cancelled"], statuses


@pytest.fixture(scope="module")
def client(studio):
    from gradio_client import Client

    return Client(studio["url"], verbose=False)


@pytest.mark.parametrize("content, message", [
    (b"", "empty.png is empty (0 bytes)"),
    (bytes(range(256)) * 16, "noise.png: unsupported image format (use PNG, JPEG, WebP or BMP)"),
])
def test_unreadable_photo_through_the_api_is_one_line(client, studio, tmp_path, content, message):
    """Not Gradio's "upstream app raised an exception": the CLI's line, for every tab's photo box and the lip-dub
    file (issue 16: the avatar and expression tabs answered with a bare "Error")."""
    from gradio_client import handle_file

    photo = tmp_path / message.split(" ")[0].rstrip(":")
    photo.write_bytes(content)
    for endpoint, first in (("/portrait_preview", "image"), ("/portrait", "image"), ("/lipdub_preview", "video"),
                            ("/avatar_preview", "image"), ("/avatar", "image"), ("/expression_preview", "image"),
                            ("/expression", "image")):
        with pytest.raises(Exception) as failure:
            client.predict(**{first: handle_file(str(photo))}, audio=handle_file(str(studio["voice"])),
                           api_name=endpoint)
        assert str(failure.value) == message, endpoint


def test_non_numeric_face_point_through_the_api(client, studio):
    from gradio_client import handle_file

    with pytest.raises(Exception) as failure:
        client.predict(video=handle_file(str(studio["clip"])), audio=handle_file(str(studio["voice"])),
                       face_point="left,top", api_name="/lipdub_preview")
    assert str(failure.value) == "bad face point 'left,top': expected 2 numbers x,y"


def test_no_face_preview_shows_the_frame_in_the_studios_words(client, studio):
    """Random weights find no face: the preview shows frame 0 to click on, and the advice names the studio's
    controls, not the CLI's --box."""
    from gradio_client import handle_file
    from PIL import Image

    overlay, dubbed, hint = client.predict(video=handle_file(str(studio["clip"])),
                                           audio=handle_file(str(studio["voice"])), rest="off",
                                           api_name="/lipdub_preview")
    assert Image.open(overlay).size == (128, 128) and dubbed is None
    assert hint == ("**no face found in frame 0 of clip.mp4; click the face on the preview to put a box around it, "
                    "or draw one in Mask and face → Manual box**")


def test_ui_language_replaces_cli_flags():
    from ui.components import ui_language

    assert ui_language("no face found in c.mp4; draw a box with --box x1,y1,x2,y2") == \
        "no face found in c.mp4; click the face on the preview to put a box around it, or draw one in Mask and " \
        "face → Manual box"
    assert ui_language("no face found in the photo; draw a face box (x1,y1,x2,y2) or use a clearer photo") == \
        "no face found in the photo; click the face on the preview picture to put a box around it, or draw one in " \
        "Advanced → Manual face box, or use a clearer photo"
    assert ui_language("missing model files for lipdub: a.pth. Fetch them with: python download_weights.py "
                       "--engine lipdub") == ("missing model files for lipdub: a.pth. Use the Download button above "
                                              "the tab (or run python download_weights.py --engine lipdub)")
    assert ui_language("out of memory: try --device cpu or a lower --batch-size") == \
        "out of memory: try CPU under Device or a lower Batch size"


def test_silent_audio_is_refused_alike_in_preview_and_generate(client, studio, tmp_path):
    """Silence would leave the mouth still: every path refuses it before work, with the same line."""
    from gradio_client import handle_file

    silent = make_tone(tmp_path / "silent.wav", seconds=0.6, amplitude=0.0)
    message = ("no speech-level sound in the driving audio of silent.wav: every frame is below -55 dBFS, so the mouth "
               "would not move")
    calls = [("/portrait_preview", {"image": handle_file(str(portrait_path())), "box": PORTRAIT_BOX}),
             ("/portrait", {"image": handle_file(str(portrait_path())), "box": PORTRAIT_BOX}),
             ("/lipdub_preview", {"video": handle_file(str(studio["clip"])), "box": LIPDUB_BOX}),
             ("/lipdub", {"video": handle_file(str(studio["clip"])), "box": LIPDUB_BOX})]
    for endpoint, picture in calls:
        with pytest.raises(Exception) as failure:
            client.predict(**picture, audio=handle_file(str(silent)), api_name=endpoint)
        assert str(failure.value) == message, endpoint
