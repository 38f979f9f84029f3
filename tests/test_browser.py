"""The demo page in a real browser: Debian's headless Chromium driven by Playwright.

Uploads a clip, presses Analyse, waits for the class probabilities and the images, and saves a screenshot
(to $LEARNET_SCREENSHOT when set, e.g. docs/screenshot.png for the README; else a temp file).  Then what a
user does next: an example and then their own clip (settings kept), a zip after a video, a typed window, a
refused clip after a result; and the page at phone width (390 px) and in dark mode (screenshots to
$LEARNET_SCREENSHOT_DIR when set, e.g. docs/).  Playwright
cannot download browsers here, so it is pointed at /usr/bin/chromium ($LEARNET_CHROMIUM overrides).  Without
a browser the test is skipped, unless LEARNET_REQUIRE_BROWSER=1 (set by CI), where it fails.
"""
from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np

import pytest
import torch
from PIL import Image

from demo import build_demo, launch_options
from learnet.hub import DEFAULT_MODEL_DIR
from learnet.video import write_video
from test_demo import (EXAMPLES, FAST, PNG, clip_path, face_frames, free_port, generated_clip,  # noqa: F401
                       model_dir)

CHROMIUM = Path(os.environ.get("LEARNET_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
TIMEOUT_MS = 90_000  # page load plus one analysis on a busy 2-core machine


def _unavailable(reason: str):
    if os.environ.get("LEARNET_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (LEARNET_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium; CI: .ci/run)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page_url(model_dir, tmp_path_factory):
    """The page on the shipped demo weights when they exist (so the README screenshot shows them), else on
    the tests' untrained model."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    examples = EXAMPLES[0].parent if EXAMPLES else None
    weights = DEFAULT_MODEL_DIR if (DEFAULT_MODEL_DIR / "model.safetensors").is_file() else model_dir
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(tmp_path_factory.mktemp("examples-cache"))
    demo = build_demo(weights, examples_dir=examples, workdir=tmp_path_factory.mktemp("browser"))
    demo.handlers.ig_steps = FAST["ig_steps"]
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                            quiet=True, **launch_options())
    yield url
    demo.close()
    os.environ.pop("GRADIO_EXAMPLES_CACHE", None)
    torch.set_num_threads(before)


def _save_small_png(image: Image.Image, path: Path) -> None:
    # 256 colours keep a committed screenshot small (about 200 KB instead of 700 KB) and still readable.
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)


def _open(browser, url: str, width: int = 1440, height: int = 900):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    expect(page.locator("#analyse-button")).to_be_visible(timeout=TIMEOUT_MS)
    return page, errors


def _upload(page, selector: str, path: Path) -> None:
    """Give a file to an upload widget, clearing the clip it shows first (as a user does with its x)."""
    clear = page.locator(f"{selector} button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator(f"{selector} input[type=file]").set_input_files(str(path))


def test_settings_inputs_and_errors_follow_what_the_user_gave_last(browser, page_url, generated_clip, face_photo,
                                                                   tmp_path):
    from playwright.sync_api import expect

    if not EXAMPLES:
        pytest.skip("no example clips in demo/examples")
    archive = tmp_path / "frames.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, f in enumerate(face_frames(face_photo)):
            z.writestr(f"clip/img{i + 1}.png", cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes())
    too_long = write_video(tmp_path / "long.mp4", np.zeros((700, 32, 32, 3), np.uint8), 30)  # limit: 600 frames
    page, errors = _open(browser, page_url)
    page.get_by_text("Window and preprocessing").click()
    align, auto = page.locator("#align input"), page.locator("#auto-window input")
    assert align.is_checked()  # the shipped weights align faces

    # An example runs unaligned (its clips are rendered aligned) and shows it ...
    page.locator("button", has_text=EXAMPLES[0].stem).first.click()
    expect(page.locator("#summary")).to_contain_text("alignment off", timeout=TIMEOUT_MS)
    expect(align).not_to_be_checked()
    # ... and the user's next clip gets their own setting back, with the earlier results gone.
    _upload(page, "#clip-video", generated_clip)
    expect(align).to_be_checked(timeout=TIMEOUT_MS)
    expect(page.locator("#summary")).to_contain_text("appear here after", timeout=TIMEOUT_MS)
    expect(page.locator("#label-output")).not_to_contain_text(re.compile("negative|positive|surprise"))

    # A frame number typed and confirmed with Enter is a manual window.
    for name, frame in (("onset", 2), ("apex", 7), ("offset", 11)):
        box = page.locator(f"#{name} input[type=number]")
        box.fill(str(frame))
        box.press("Enter")
    expect(auto).not_to_be_checked(timeout=TIMEOUT_MS)
    page.locator("#analyse-button").click()
    expect(page.locator("#summary")).to_contain_text("Window (chosen by hand): onset 2, apex 7, offset 11",
                                                     timeout=TIMEOUT_MS)
    expect(page.locator("#summary")).to_contain_text("Face: found")  # aligned, as the user left it

    # A zip given after the video is what gets analysed.
    page.get_by_role("tab", name="Zip of frames").click()
    _upload(page, "#clip-zip", archive)
    expect(auto).to_be_checked(timeout=TIMEOUT_MS)  # a new clip: the automatic window again
    page.locator("#analyse-button").click()
    expect(page.locator("#summary")).to_contain_text("frames.zip: 14 frames, 192x224 px", timeout=TIMEOUT_MS)
    expect(page.locator("#gradcam-gallery img")).to_have_count(4, timeout=TIMEOUT_MS)  # its explanation too

    # A refused clip after a result: the error, and no answer of the earlier clip beside it.
    page.get_by_role("tab", name="Video or webcam").click()
    _upload(page, "#clip-video", too_long)
    expect(page.locator("#clip-video video")).to_have_count(1, timeout=TIMEOUT_MS)
    page.locator("#analyse-button").click()
    expect(page.get_by_text("has 700 frames, above this demo's limit of 600").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#label-output")).not_to_contain_text(re.compile("negative|positive|surprise"))
    expect(page.locator("#summary")).to_contain_text("appear here after")
    expect(page.locator("#gradcam-gallery img")).to_have_count(0, timeout=TIMEOUT_MS)  # updates arrive asynchronously
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("width,theme,name", [(390, "", "screenshot-phone.png"),
                                              (1440, "?__theme=dark", "screenshot-dark.png")])
def test_phone_width_and_dark_mode(browser, page_url, tmp_path, width, theme, name):
    from playwright.sync_api import expect

    if not EXAMPLES:
        pytest.skip("no example clips in demo/examples")
    page, errors = _open(browser, page_url + theme, width, 844)
    # Before any analysis every panel says what will appear in it.
    expect(page.locator("#summary")).to_contain_text("appear here after")
    expect(page.locator("#faithfulness")).to_contain_text("appear here after")
    assert page.locator("#motion-plot img").count() == 1 and page.locator("#regions img").count() == 1
    page.locator("button", has_text=EXAMPLES[0].stem).first.click()
    expect(page.locator("#gradcam-gallery img")).to_have_count(4, timeout=TIMEOUT_MS)
    expect(page.locator("#faithfulness")).to_contain_text("deletion AUC", timeout=TIMEOUT_MS)
    for _ in range(12):  # scroll through so every lazily loaded picture is painted
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(150)
    page.wait_for_timeout(800)
    geometry = page.evaluate("""() => [...document.querySelectorAll(
        '#keyframes .thumbnail-item, #gradcam-gallery .thumbnail-item, #input-gallery .thumbnail-item')].map(t => {
          const img = t.querySelector('img').getBoundingClientRect();
          const cap = t.querySelector('.caption-label');
          const c = cap.getBoundingClientRect();
          return {text: cap.innerText, cut: cap.scrollWidth > cap.clientWidth + 1, below: c.top >= img.bottom - 1,
                  inside: c.left >= 0 && c.right <= window.innerWidth, loaded: t.querySelector('img').naturalWidth};
        })""")
    assert len(geometry) == 3 + 4 + 1
    for g in geometry:  # captions whole, under the picture (never over a face), on the screen
        assert not g["cut"] and g["below"] and g["inside"] and g["loaded"] > 0, g
    table = page.evaluate("""() => { const i = document.querySelector('#regions img'); const r = i.getBoundingClientRect();
        return {natural: i.naturalWidth, shown: r.width, right: r.right, screen: window.innerWidth,
                filter: getComputedStyle(i).filter}; }""")
    # the region table is drawn at 11-12 px text; shown at >= 85% of its size it stays readable, on screen
    assert table["shown"] >= 0.85 * table["natural"] and table["right"] <= table["screen"], table
    assert ("invert" in table["filter"]) == bool(theme)  # dark mode: the white charts are inverted
    assert page.locator(".toast-body.error").count() == 0 and not errors, errors
    folder = Path(os.environ.get("LEARNET_SCREENSHOT_DIR") or tmp_path)
    raw = tmp_path / "raw.png"
    page.screenshot(path=str(raw), full_page=True)
    page.close()
    _save_small_png(Image.open(raw).convert("RGB"), folder / name)
    assert (folder / name).read_bytes()[:8] == PNG


def test_upload_analyse_and_screenshot(browser, page_url, clip_path, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(page_url, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    expect(page.locator("#analyse-button")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_text("Model and limitations").click()  # open the panel (also for the screenshot)
    expect(page.locator("#limitations")).to_contain_text("not a lie detector", timeout=TIMEOUT_MS)
    expect(page.locator("#model-panel")).to_contain_text("1,865,539 trainable parameters")

    page.locator("#clip-video input[type=file]").set_input_files(str(clip_path))
    expect(page.locator("#clip-video video")).to_have_count(1, timeout=TIMEOUT_MS)  # upload finished
    page.locator("#analyse-button").click()

    classes = re.compile("negative|positive|surprise")  # the 3-class label map of the tests and the demo weights
    expect(page.locator("#label-output")).to_contain_text(classes, timeout=TIMEOUT_MS)
    expect(page.locator("#summary")).to_contain_text("Window (motion heuristic)", timeout=TIMEOUT_MS)
    expect(page.locator("#dynamic-image img")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.locator("#keyframes img")).to_have_count(3, timeout=TIMEOUT_MS)
    expect(page.locator("#gradcam-gallery img")).to_have_count(4, timeout=TIMEOUT_MS)
    expect(page.locator("#downloads")).to_contain_text("learnet-report", timeout=TIMEOUT_MS)
    expect(page.locator("#regions img")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.locator("#downloads")).not_to_contain_text(".pdf")  # the figure is made on request
    page.locator("#figure-button").click()
    # The file list shows a name and its extension apart ("clip-learnet-figure .pdf").
    expect(page.locator("#downloads")).to_contain_text(".pdf", timeout=TIMEOUT_MS)
    expect(page.locator("#downloads")).to_contain_text(".png", timeout=TIMEOUT_MS)
    # PNG, not WebP: the overlays keep exact colours.
    src = page.locator("#dynamic-image img").first.get_attribute("src") or ""
    assert src.split("?")[0].endswith(".png"), src
    # The page shows no error toast and the browser logged no script error.
    assert page.locator(".toast-body.error").count() == 0, page.locator(".toast-body").all_inner_texts()
    assert not errors, errors

    for close in page.locator('[data-testid="toast-close"]').all():  # warnings would cover the screenshot
        close.click()
    page.wait_for_timeout(500)  # let the last images paint
    shot = Path(os.environ.get("LEARNET_SCREENSHOT") or tmp_path / "screenshot.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    raw = tmp_path / "raw.png"
    page.screenshot(path=str(raw), full_page=True)
    page.close()
    image = Image.open(raw).convert("RGB")
    _save_small_png(image, shot)
    data = shot.read_bytes()
    assert data[:8] == PNG and 50_000 < len(data) < 400_000
    assert image.width == 1440 and image.height > 1500  # the whole page, outputs included


def test_an_mp4v_upload_previews_as_a_playable_video(browser, page_url, face_photo, tmp_path):
    """Phones write MPEG-4 Part 2 (mp4v), which browsers cannot play: the page shows an H.264 copy."""
    from playwright.sync_api import expect

    frames = face_frames(face_photo)
    h, w = frames.shape[1:3]
    clip = tmp_path / "phone.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    page, errors = _open(browser, page_url)
    _upload(page, "#clip-video", clip)
    video = page.locator("#clip-video video")
    expect(video).to_have_count(1, timeout=TIMEOUT_MS)
    expect(video).to_have_attribute("src", re.compile(r"phone-preview\.mp4"), timeout=TIMEOUT_MS)
    # The browser decodes it: metadata loaded (readyState >= 1) and no error on the element.
    page.wait_for_function("() => { const v = document.querySelector('#clip-video video');"
                           " return v && v.readyState >= 1 && !v.error; }", timeout=TIMEOUT_MS)
    # The browser's generic "Video not playable" toast for the original upload is dismissed: no red error for a
    # clip the page can analyse.
    expect(page.get_by_text("Video not playable")).to_have_count(0, timeout=5_000)
    assert not errors, errors
    page.close()
