"""The studio in a real browser: Debian's Chromium, headless, driven by Playwright.

Open the page, upload a clip, run, see bars in the timeline, edit a label and see the timeline follow,
upload a bad file and an oversized one and see the messages. Screenshots go to the test's tmp folder.
Without /usr/bin/chromium the test is skipped, unless UNIAV_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest
import torch

from tests.helpers import signal_model_config
from uniav.model.uniav import UniAV
from uniav.studio import Studio, StudioSettings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("UNIAV_REQUIRE_BROWSER") == "1":
            pytest.fail(f"UNIAV_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(f"browser test needs Debian's Chromium: {why}")
    return CHROMIUM


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    import app

    torch.manual_seed(0)
    model = tmp_path_factory.mktemp("model") / "tiny-signal"
    UniAV(signal_model_config()).save_pretrained(model)
    settings = StudioSettings(
        model=str(model),
        cache_dir=tmp_path_factory.mktemp("cache"),
        examples_dir=tmp_path_factory.mktemp("no-examples"),
        max_upload_mb=2,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        demo = app.serve(Studio(settings), port=port, block=False, quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


def upload(page, path: Path) -> None:
    """Put `path` in the upload box (clearing the file already there, as a user would)."""
    if not page.locator("#upload input[type=file]").count():
        page.locator("#upload button[aria-label='Clear']").first.click()
    page.locator("#upload input[type=file]").set_input_files(str(path))


def expect_uploaded(page, name: str) -> None:
    """The upload box names the file (Gradio renders the stem and the extension as separate parts)."""
    from playwright.sync_api import expect

    stem, ext = name.rsplit(".", 1)
    expect(page.locator("#upload")).to_contain_text(re.compile(re.escape(stem) + r"\s*\." + re.escape(ext)))


def tal_rows(page) -> list[str]:
    """The row labels of the first lane (TAL): plotly names the first y axis' ticks ``.ytick``."""
    return page.locator("#timeline .ytick text").all_text_contents()


def test_upload_run_edit_and_errors_in_chromium(chromium, app_url, media_dir, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(app_url, wait_until="domcontentloaded")
            expect(page.locator("#run")).to_be_visible()
            expect(page.locator("#tab-TAL")).to_be_visible()

            # upload and run: the player shows the clip, the timeline has bars, the table has rows
            upload(page, media_dir / "chaplin.mp4")
            expect_uploaded(page, "chaplin.mp4")
            expect(page.locator("#status")).to_contain_text("Press Detect")
            page.locator("#threshold-TAL input[type=number]").fill("0")
            page.locator("#threshold-TAL input[type=number]").press("Enter")
            page.click("#run")
            expect(page.locator("#status")).to_contain_text("analysed in")
            expect(page.locator("#timeline .js-plotly-plot")).to_be_visible()
            bars = page.locator("#timeline .barlayer .point path")
            expect(bars.first).to_be_attached()
            assert bars.count() >= 1
            expect(page.locator("#player-video video")).to_be_attached()
            expect(page.locator("#detections")).to_contain_text("TAL")
            before = tal_rows(page)
            assert before and not set(before) & {"juggling", "skating"}
            page.screenshot(path=str(tmp_path / "1-after-run.png"), full_page=True)

            # edit TAL's labels: the timeline follows, without a new analysis
            page.locator("#labels-TAL textarea").fill("juggling\nskating")
            expect(page.locator("#status")).to_contain_text("without re-encoding")
            expect(page.locator("#timeline .ytick text", has_text="juggling").first).to_be_attached()
            after = tal_rows(page)
            assert after and set(after) <= {"juggling", "skating"}
            page.screenshot(path=str(tmp_path / "2-after-edit.png"), full_page=True)

            # a bad file: a specific message in the page, no traceback
            upload(page, media_dir / "not_a_video.mp4")
            expect_uploaded(page, "not_a_video.mp4")
            page.click("#run")
            status = page.locator("#status")
            expect(status).to_contain_text("Cannot read not_a_video.mp4")
            expect(status).to_contain_text("not a media file")
            assert "Traceback" not in page.content()
            expect(page.locator("#timeline .barlayer .point path")).to_have_count(0)
            page.screenshot(path=str(tmp_path / "3-bad-file.png"), full_page=True)

            # an upload over the limit (2 MB here) is refused with a message naming the limit
            big = tmp_path / "big.mp4"
            big.write_bytes(b"\0" * (3 * 1024 * 1024))
            upload(page, big)
            expect(page.get_by_text('exceed the maximum allowed size of 2.0 Mb: "big.mp4"')).to_be_visible()
            page.screenshot(path=str(tmp_path / "4-too-big.png"), full_page=True)

            # and the app still works: the next upload runs
            upload(page, media_dir / "dog_bark.wav")
            expect_uploaded(page, "dog_bark.wav")
            page.click("#run")
            expect(status).to_contain_text("dog_bark.wav")
            expect(status).to_contain_text("audio only")
            expect(page.locator("#player-audio audio").first).to_be_attached()
            page.screenshot(path=str(tmp_path / "5-audio-only.png"), full_page=True)
        finally:
            browser.close()
