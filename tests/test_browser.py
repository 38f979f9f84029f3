"""The demo page in a real browser: Debian's headless Chromium driven by Playwright.

Uploads a clip, presses Analyse, waits for the class probabilities and the images, and saves a screenshot
(to $LEARNET_SCREENSHOT when set, e.g. docs/screenshot.png for the README; else a temp file).  Playwright
cannot download browsers here, so it is pointed at /usr/bin/chromium ($LEARNET_CHROMIUM overrides).  Without
a browser the test is skipped, unless LEARNET_REQUIRE_BROWSER=1 (set by CI), where it fails.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from demo import build_demo, launch_options
from learnet.hub import DEFAULT_MODEL_DIR
from test_demo import EXAMPLES, FAST, PNG, clip_path, free_port, generated_clip, model_dir  # noqa: F401  (fixtures)

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
    # 256 colours keep a committed screenshot small (about 200 KB instead of 700 KB) and still readable.
    image = Image.open(raw).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(shot, optimize=True)
    data = shot.read_bytes()
    assert data[:8] == PNG and 50_000 < len(data) < 400_000
    assert image.width == 1440 and image.height > 1500  # the whole page, outputs included
