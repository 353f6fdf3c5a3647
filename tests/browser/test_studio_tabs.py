"""The two newer engine tabs, "Infinite avatar" and "Expression control", as a creator uses them in Chromium at
1400x900 on `python app.py` with tiny random weights (as tests/browser/test_studio_app.py does for the lip-dub and
photo tabs):
the main path (inputs, Preview / Generate / Stop, previews, result) fits the screen without scrolling; Preview shows
its pictures at a real size; Generate streams its progress line where the creator is looking; Stop cancels the job
(status.json says "cancelled"); a short job's video has a source to play.

Screenshots of each step land in the test's temporary folder (``<tab>-*.png``)."""
from tests.browser.support import (
    PORTRAIT_BOX,
    assert_main_path_on_screen,
    assert_name_shown_whole,
    generate_then_stop,
    generate_to_the_end,
    image_size,
)
from tests.samples import portrait_path

AVATAR_SIZE = "64x48"  # the tiny weights' smallest sensible size: Preview and a 0.8 s job take seconds on a CPU


def _upload(page, engine: str, picture: str, studio: dict, shots) -> None:
    page.locator(f"#{engine}-image input[type=file]").set_input_files(picture)
    page.locator(f"#{engine}-audio input[type=file]").set_input_files(str(studio["voice"]))
    page.get_by_text("Off: follow every sound").locator("visible=true").click()  # a tone holds no speech
    assert_name_shown_whole(page, f"{engine}-audio", "speech_take_03_final_mix.wav")
    image_size(page, f"{engine}-image")
    page.screenshot(path=str(shots / f"{engine}-1-inputs.png"))


def _video_has_source(page, elem_id: str) -> None:
    page.wait_for_function(f"(() => {{ const v = document.querySelector('#{elem_id} video'); "
                           "return v && v.src; })()", timeout=60_000)


def test_avatar_tab(page, studio, tmp_path):
    page.get_by_role("tab", name="Infinite avatar").click()
    _upload(page, "avatar", str(portrait_path()), studio, tmp_path)
    main_path = ["avatar-image", "avatar-audio", "avatar-still", "avatar-clip", "avatar-result"]
    assert_main_path_on_screen(page, main_path)

    size = page.get_by_label("Size", exact=True).locator("visible=true")
    size.fill(AVATAR_SIZE)
    size.press("Enter")
    end = page.get_by_label("End (s), 0 = to the end").locator("visible=true")
    end.fill("0.8")  # a 0.8 s preview window instead of 3.24 s: seconds, not half a minute, on a shared CPU
    end.press("Enter")
    page.get_by_role("button", name="Preview (first 3 s, draft)").click()
    width, height, natural = image_size(page, "avatar-still")
    assert width > 50 and height > 30 and natural == 64, (width, height, natural)
    _video_has_source(page, "avatar-clip")
    page.screenshot(path=str(tmp_path / "avatar-2-preview.png"))
    assert_main_path_on_screen(page, main_path)

    end.fill("0")  # the whole 8 s take: Stop has time to act
    end.press("Enter")
    # "denoising 3/75 window steps (step 1/25, window 3/3) · 4 s left"
    generate_then_stop(page, "avatar", studio["outputs"], tmp_path, progress="window steps")
    generate_to_the_end(page, "avatar", tmp_path)
    assert_main_path_on_screen(page, main_path)


def test_expression_tab(page, studio, tmp_path):
    page.get_by_role("tab", name="Expression control").click()
    _upload(page, "expression", str(portrait_path()), studio, tmp_path)
    main_path = ["expression-image", "expression-audio", "expression-live", "expression-photo", "expression-result"]
    assert_main_path_on_screen(page, main_path)

    advanced = page.get_by_text("Advanced", exact=True).locator("visible=true")
    advanced.click()
    page.get_by_label("Manual face box x1,y1,x2,y2", exact=True).fill(PORTRAIT_BOX)
    advanced.click()  # folded again: the main path stays on one screen
    page.get_by_role("button", name="Live preview", exact=True).click()
    width, height, natural = image_size(page, "expression-live")
    assert width > 50 and height > 50 and natural == 512, (width, height, natural)
    page.screenshot(path=str(tmp_path / "expression-2-preview.png"))
    assert_main_path_on_screen(page, main_path)

    # Photo + audio: a talking video ("rendering 4/200 frames"); Stop, then a 0.8 s job that plays.
    generate_then_stop(page, "expression", studio["outputs"], tmp_path)
    generate_to_the_end(page, "expression", tmp_path)
    assert_main_path_on_screen(page, main_path)
