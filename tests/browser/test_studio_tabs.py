"""The two newer engine tabs, "Infinite avatar" and "Expression control", as a creator uses them in Chromium at
1400x900 on `python app.py` with tiny random weights (as tests/browser/test_studio_app.py does for the lip-dub and
photo tabs):
the main path (inputs, Preview / Generate / Stop, previews, result) fits the screen without scrolling; Preview shows
its pictures at a real size; Generate streams its progress line where the creator is looking; Stop cancels the job
(status.json says "cancelled"); a short job's video has a source to play.

Screenshots of each step land in the test's temporary folder (``<tab>-*.png``)."""
from tests.browser.support import (
    PORTRAIT_BOX,
    VIEWPORT,
    assert_main_path_on_screen,
    assert_name_shown_whole,
    generate_then_stop,
    generate_to_the_end,
    image_size,
    track_colour,
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


def test_unreadable_photo_is_one_line_and_the_tab_stays_usable(page, studio, tmp_path):
    """Issue 16: a 0-byte photo gave a bare "Error" and left Generate greyed out until Stop. Now the one line the
    CLI prints, and Generate is ready again (avatar and expression take the photo tab's path)."""
    from playwright.sync_api import expect

    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    own = page.context.browser.new_context(viewport=VIEWPORT)  # its own page: the other tests' tabs stay as they are
    page = own.new_page()
    page.goto(studio["url"], wait_until="domcontentloaded", timeout=60_000)
    for tab, engine in (("Infinite avatar", "avatar"), ("Expression control", "expression")):
        page.get_by_role("tab", name=tab).click()
        page.locator(f"#{engine}-image input[type=file]").set_input_files(str(empty))
        page.locator(f"#{engine}-audio input[type=file]").set_input_files(str(studio["voice"]))
        assert_name_shown_whole(page, f"{engine}-audio", "speech_take_03_final_mix.wav")
        generate = page.get_by_role("button", name="Generate", exact=True).locator("visible=true")
        generate.click()
        toast = page.get_by_text("empty.png is empty (0 bytes)")
        expect(toast).to_be_visible(timeout=30_000)
        expect(generate).to_be_enabled(timeout=10_000)
        expect(page.get_by_role("button", name="Stop", exact=True).locator("visible=true")).to_be_disabled()
        page.screenshot(path=str(tmp_path / f"{engine}-0-unreadable.png"))
    own.close()


def test_avatar_tab(page, studio, tmp_path):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Infinite avatar").click()
    _upload(page, "avatar", str(portrait_path()), studio, tmp_path)
    expect(page.locator("#avatar-estimate")).to_contain_text("On this CPU, denoising only: Preview ≈ ",
                                                             timeout=30_000)
    main_path = ["avatar-image", "avatar-audio", "avatar-still", "avatar-clip", "avatar-result"]
    assert_main_path_on_screen(page, main_path)

    size = page.get_by_label("Size", exact=True).locator("visible=true")
    size.fill(AVATAR_SIZE)
    size.press("Enter")
    end = page.get_by_label("End (s), 0 = to the end").locator("visible=true")
    end.fill("0.8")  # a 0.8 s preview window instead of 3.24 s: seconds, not half a minute, on a shared CPU
    end.press("Enter")
    page.get_by_role("button", name="Preview 3.2 s, 10 steps").click()  # what it renders
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
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Expression control").click()
    # Video mode: no photo box and no audio (a video keeps its own sound); back to Photo for the rest.
    page.get_by_label("Video", exact=True).check()
    expect(page.locator("#expression-video")).to_be_visible()
    expect(page.locator("#expression-image")).to_be_hidden()
    expect(page.locator("#expression-audio")).to_be_hidden()
    page.get_by_label("Photo", exact=True).check()
    expect(page.locator("#expression-video")).to_be_hidden()
    _upload(page, "expression", str(portrait_path()), studio, tmp_path)
    main_path = ["expression-image", "expression-audio", "expression-live", "expression-photo", "expression-result"]
    assert_main_path_on_screen(page, main_path)

    # A slider centred on 0 fills from 0 to its value: eee (wide) is -20..15, so -10 fills 29%..57% of the track.
    wide = page.locator("#expression-edit-eee input[type=number]")
    wide.fill("-10")
    wide.press("Enter")
    track = "#expression-edit-eee input[type=range]"
    page.wait_for_function(f"document.querySelector('{track}').value === '-10'")
    r, g, b = track_colour(page, track, 0.43)
    assert r > g + 60, ("not filled between the value and 0", (r, g, b))
    r, g, b = track_colour(page, track, 0.08)
    assert abs(r - g) < 20, ("filled from the left end", (r, g, b))
    wide.fill("0")
    wide.press("Enter")

    advanced = page.get_by_text("Advanced", exact=True).locator("visible=true")
    advanced.click()
    page.get_by_label("Manual face box x1,y1,x2,y2", exact=True).fill(PORTRAIT_BOX)
    advanced.click()  # folded again: the main path stays on one screen
    page.get_by_role("button", name="Preview edits (face crop)").click()
    width, height, natural = image_size(page, "expression-live")
    assert width > 50 and height > 50 and natural == 512, (width, height, natural)
    page.screenshot(path=str(tmp_path / "expression-2-preview.png"))
    assert_main_path_on_screen(page, main_path)

    # Photo + audio: a talking video ("rendering 4/200 frames"); Stop, then a 0.8 s job that plays.
    generate_then_stop(page, "expression", studio["outputs"], tmp_path)
    generate_to_the_end(page, "expression", tmp_path)
    assert_main_path_on_screen(page, main_path)
