"""The studio in a real browser: Debian's Chromium, headless, driven by Playwright.

One app server for the module (a small untrained model that records which of its tasks were trained on
synthetic data, two generated example clips described in an ``examples.json``, a 2 MB upload limit and a
cache lifetime of a few seconds) and a few pages: what the page says before any result; the examples after
Gradio's cache interval has passed, with the first timeline timed in the page; a session of upload, run,
edits (a bad one too) and bad files. Screenshots go to the test's tmp folder. Without /usr/bin/chromium the
tests are skipped, unless UNIAV_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
import torch

from tests.browser_helpers import (
    CHROMIUM,
    TIME_FIRST_TIMELINE,
    TIMELINE_BARS,
    expect_uploaded,
    launch,
    set_slider,
    upload,
)
from tests.helpers import signal_model_config, write_test_clip
from uniav.config import ModelConfig, Provenance, TaskProvenance
from uniav.model.uniav import UniAV
from uniav.studio import Studio, StudioSettings

TIMEOUT_MS = 30_000
CACHE_TTL_S = 4  # Gradio deletes cached files older than this, every this many seconds
FIRST_TIMELINE_MS = 1000  # the first timeline is drawn within this of the status saying "analysed"
PROVENANCE = Provenance(tasks={"TAL": TaskProvenance("generated shapes", real=False)})
EXAMPLES = {"square.mp4": "A white square sliding over grey, with beeps", "short/beeps.mp4": "Two beeps"}

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class App:
    url: str
    config: ModelConfig
    examples: dict[str, str]  # file -> description, as examples.json says
    folders: tuple[Path, ...]  # server-side folders no page may show


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("UNIAV_REQUIRE_BROWSER") == "1":
            pytest.fail(f"UNIAV_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(f"browser test needs Debian's Chromium: {why}")
    return CHROMIUM


@pytest.fixture(scope="module")
def app(tmp_path_factory, media_dir) -> App:
    import app as studio_app

    torch.manual_seed(0)
    config = signal_model_config(provenance=PROVENANCE)
    model = tmp_path_factory.mktemp("model") / "tiny-signal"
    UniAV(config).save_pretrained(model)
    examples = tmp_path_factory.mktemp("examples")
    (examples / "short").mkdir()
    write_test_clip(examples / "square.mp4", seconds=4.0)
    write_test_clip(examples / "short" / "beeps.mp4", seconds=2.0)
    (examples / "examples.json").write_text(json.dumps(EXAMPLES))
    settings = StudioSettings(
        model=str(model),
        cache_dir=tmp_path_factory.mktemp("cache"),
        examples_dir=examples,
        max_upload_mb=2,
        cache_ttl_s=CACHE_TTL_S,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        demo = studio_app.serve(Studio(settings), port=port, block=False, quiet=True)
    gradio_dir = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
    try:
        yield App(demo.local_url, config, EXAMPLES, (model.parent, examples, media_dir, gradio_dir))
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = launch(pw, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture()
def page(browser, app):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(app.url, wait_until="domcontentloaded")
    expect(page.locator("#run")).to_be_visible()
    try:
        yield page
    finally:
        page.close()


def assert_no_server_path(page, app: App) -> None:
    """Nothing the user can read names a folder of the server (uploads, examples, the model, the media)."""
    text = page.locator("body").inner_text()
    for folder in app.folders:
        assert str(folder) not in text
    assert "/tmp/" not in text


def uploaded_copy(page) -> Path:
    """The server's copy of the file in the upload box (from the box's download link)."""
    href = page.locator("#upload a[href*='file=']").first.get_attribute("href")
    return Path(unquote(href.split("file=", 1)[1]))


# ---- the page before any result -----------------------------------------------------------------
def test_the_page_says_what_the_model_knows_and_offers_nothing_it_cannot_do(page, app, tmp_path):
    from playwright.sync_api import expect

    notice = page.locator("#model-notice")
    synthetic = [t for t, p in PROVENANCE.tasks.items() if p.real is False]
    expect(notice).to_contain_text(f"trained on synthetic clips only for {', '.join(synthetic)}")
    for task in app.config.tasks:  # the classes come from the loaded model's configuration
        expect(notice).to_contain_text(f"{task.name} knows {task.num_classes} classes: {task.labels[0]}")
    expect(notice).to_contain_text("Models for real videos")
    expect(page.locator("#note-TAL")).to_contain_text("synthetic training data only")

    page.get_by_text("Model", exact=True).first.click()  # the Model box: every class, the encoders, the card
    status = page.locator("#model-status")
    for label in app.config.task("SED").labels:
        expect(status).to_contain_text(label)
    expect(status).to_contain_text("text encoder: signal")
    expect(status).to_contain_text("uniav convert-official")
    page.get_by_text("Model card", exact=True).click()
    expect(page.locator("#model-card")).to_contain_text("UniAV model")

    # nothing to download yet; the timeline is a (plotly) figure already, so the first result draws at once
    expect(page.locator("#download-json")).to_be_disabled()
    expect(page.locator("#download-csv")).to_be_disabled()
    expect(page.locator("#timeline .js-plotly-plot")).to_be_visible()
    assert page.evaluate("() => typeof window.Plotly") == "object"
    # the examples by what is in them
    for description in app.examples.values():
        expect(page.locator("#examples")).to_contain_text(description)
    assert_no_server_path(page, app)
    page.screenshot(path=str(tmp_path / "0-before-any-result.png"), full_page=True)


# ---- the examples, after the cache interval -----------------------------------------------------
def test_examples_keep_working_after_the_cache_interval_and_the_first_timeline_is_quick(page, app, tmp_path):
    from playwright.sync_api import expect

    status = page.locator("#status")
    first, second = (page.locator("#examples button", has_text=text) for text in app.examples.values())
    first.click()
    expect(status).to_contain_text("press Detect")
    copy = uploaded_copy(page)
    times = page.evaluate(TIME_FIRST_TIMELINE, 60_000)
    delay = max(0.0, times["plot"] - times["status"])
    print(f"first timeline drawn {delay:.0f} ms after the status said analysed")
    assert delay < FIRST_TIMELINE_MS
    expect(page.locator("#download-json")).to_be_enabled()

    # after the interval Gradio has deleted its copy of the example: picking an example still works
    deadline = time.monotonic() + 4 * CACHE_TTL_S
    while copy.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not copy.exists(), "the cache interval passed but Gradio kept the copy: the test proves nothing"
    for example in (second, first):
        name = example.inner_text()
        example.click()
        expect(status).to_contain_text("press Detect")
        page.click("#run")
        expect(status).to_contain_text(re.compile("analysed in|reused from the cache"))
        assert "Cannot read" not in status.inner_text(), name
        expect(page.locator("#timeline .barlayer .point path").first).to_be_attached()
    page.screenshot(path=str(tmp_path / "1-example-after-the-interval.png"), full_page=True)


# ---- a session: upload, run, edits, bad files ---------------------------------------------------
def bars_are_each_visible(page) -> int:
    """Every bar has its own box on screen (none covers another), and detections of one label that overlap in
    time are on different sub-rows; returns how many such overlapping pairs the timeline has."""
    drawn = page.evaluate(TIMELINE_BARS)
    boxes = drawn["boxes"]
    assert boxes and all(bottom - top > 2 for _, top, _, bottom in boxes)
    for i, (l0, t0, r0, b0) in enumerate(boxes):
        for l1, t1, r1, b1 in boxes[i + 1 :]:
            assert max(0.0, min(r0, r1) - max(l0, l1)) * max(0.0, min(b0, b1) - max(t0, t1)) < 1.0
    overlapping = 0
    for trace in drawn["traces"]:
        bars = list(zip(trace["labels"], trace["rows"], trace["starts"], trace["lengths"], strict=True))
        for i, (label, row, start, length) in enumerate(bars):
            for label2, row2, start2, length2 in bars[i + 1 :]:
                if label == label2 and start < start2 + length2 and start2 < start + length:
                    overlapping += 1
                    assert row != row2
    return overlapping


def test_upload_run_edit_and_errors_in_chromium(page, app, media_dir, tmp_path):
    from playwright.sync_api import expect

    status, message, timeline = page.locator("#status"), page.locator("#message"), page.locator("#timeline")
    # upload and run: the player shows the clip, the timeline has bars, the table has rows
    upload(page, media_dir / "chaplin.mp4")
    expect_uploaded(page, "chaplin.mp4")
    expect(status).to_contain_text("press Detect")
    set_slider(page, "threshold-TAL", 0)  # (the TAL tab is the one shown)
    page.click("#run")
    expect(status).to_contain_text("analysed in")
    expect(page.locator("#timeline .barlayer .point path").first).to_be_attached()
    expect(page.locator("#player-video video")).to_be_attached()
    expect(page.locator("#detections")).to_contain_text("TAL")
    expect(page.locator("#download-csv")).to_be_enabled()
    # overlapping detections of one label (an untrained model has plenty at threshold 0) each stay visible
    assert bars_are_each_visible(page) > 0
    rows = page.locator("#timeline .ytick text").all_text_contents()
    assert rows and not set(rows) & {"juggling", "skating"}
    page.screenshot(path=str(tmp_path / "2-after-run.png"), full_page=True)

    # edit TAL's labels: the timeline follows, without a new analysis
    page.locator("#labels-TAL textarea").fill("juggling\nskating")
    expect(status).to_contain_text("without re-encoding")
    expect(page.locator("#timeline .ytick text", has_text="juggling").first).to_be_attached()
    kept = status.inner_text()

    # a bad edit: the timeline is marked out of date, the status stays, the error is said apart
    page.locator("#labels-TAL textarea").fill("juggling\nskating\njuggling")
    expect(message).to_contain_text("TAL labels: each label once, please; repeated: juggling")
    expect(timeline).to_contain_text("Out of date")
    assert status.inner_text() == kept
    page.screenshot(path=str(tmp_path / "3-bad-edit.png"), full_page=True)
    page.locator("#labels-TAL textarea").fill("juggling\nskating\nsurfing")
    expect(timeline).not_to_contain_text("Out of date")
    expect(message).to_have_text("")

    # bad files: a specific message at once and after Detect, no traceback, no server path, no pile of warnings
    image = tmp_path / "image_renamed.mp4"
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 60, 20)).save(image, format="PNG")
    bad = [
        (media_dir / "not_a_video.mp4", "not a media file"),
        (image, "a still image (PNG), not a video"),
        (media_dir / "truncated.mp4", "truncated"),
    ]
    for path, reason in bad:
        upload(page, path)
        expect_uploaded(page, path.name)
        expect(status).to_contain_text(f"Cannot read {path.name}")
        expect(status).to_contain_text(reason)
        page.click("#run")
        expect(status).to_contain_text(f"Cannot read {path.name}")
        expect(page.locator("#timeline .barlayer .point path")).to_have_count(0)
        expect(page.locator("#download-json")).to_be_disabled()
        assert "Traceback" not in page.content()
        assert_no_server_path(page, app)
        assert page.locator(".toast-body").count() == 0  # one message per action, in the page, no toasts
    page.screenshot(path=str(tmp_path / "4-bad-files.png"), full_page=True)

    # an upload over the limit (2 MB here) is refused with a message naming the limit
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (3 * 1024 * 1024))
    upload(page, big)
    expect(page.get_by_text('exceed the maximum allowed size of 2.0 Mb: "big.mp4"')).to_be_visible()

    # and the app still works: the next upload runs
    upload(page, media_dir / "dog_bark.wav")
    expect_uploaded(page, "dog_bark.wav")
    page.click("#run")
    expect(status).to_contain_text("dog_bark.wav")
    expect(status).to_contain_text("audio only")
    expect(page.locator("#player-audio audio").first).to_be_attached()
    page.screenshot(path=str(tmp_path / "5-audio-only.png"), full_page=True)
