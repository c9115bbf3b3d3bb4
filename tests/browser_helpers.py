"""Driving the studio in Debian's Chromium through Playwright: shared by tests/test_browser.py and
benchmarks/bench_app_browser.py.

Timings are taken in the page (``performance.now()`` in a MutationObserver), so they are what a user sees:
from an action to the redrawn timeline, not the server's share alone.
"""

from __future__ import annotations

import re
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}

# Click Detect and resolve with the page times (ms) at which the status first says "analysed" and at which the
# timeline first has bars (whichever comes first); rejects after `timeout` ms.
TIME_FIRST_TIMELINE = """
(timeout) => new Promise((resolve, reject) => {
  const status = document.querySelector('#status');
  const timeline = document.querySelector('#timeline');
  const times = {status: null, plot: null};
  const check = () => {
    const now = performance.now();
    if (times.status === null && /analysed in|reused from the cache/.test(status.innerText)) times.status = now;
    if (times.plot === null && timeline.querySelector('.barlayer .point path')) times.plot = now;
    if (times.status !== null && times.plot !== null) { observer.disconnect(); clearTimeout(timer); resolve(times); }
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  const timer = setTimeout(() => { observer.disconnect(); reject(new Error('no timeline: ' + status.innerText)); },
                           timeout);
  document.querySelector('#run').click();
})
"""

# Type `labels` into a task's labels box (as a paste would) and resolve with the milliseconds until the timeline
# shows `expect` as a row label; rejects after `timeout` ms.
TIME_LABEL_EDIT = """
([task, labels, expect, timeout]) => new Promise((resolve, reject) => {
  const box = document.querySelector(`#labels-${task} textarea`);
  const timeline = document.querySelector('#timeline');
  const shows = () => [...timeline.querySelectorAll('.ytick text')].some((t) => t.textContent === expect);
  let start = null;
  const check = () => {
    if (start !== null && shows()) {
      const elapsed = performance.now() - start;
      observer.disconnect(); clearTimeout(timer); resolve(elapsed);
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(timeline, {subtree: true, childList: true, characterData: true, attributes: true});
  const timer = setTimeout(() => { observer.disconnect(); reject(new Error('timeline did not show ' + expect)); },
                           timeout);
  start = performance.now();
  box.value = labels;
  box.dispatchEvent(new Event('input', {bubbles: true}));
})
"""

# The bars of the timeline: each bar's box on screen and, per trace, plotly's data (label, sub-row, start, end).
TIMELINE_BARS = """
() => {
  const plot = document.querySelector('#timeline .js-plotly-plot');
  const boxes = [...plot.querySelectorAll('.barlayer .point path')].map((p) => {
    const r = p.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  });
  // (plotly's full data: typed arrays decoded, one entry per bar)
  const traces = plot._fullData.filter((t) => t.type === 'bar').map((t) => ({
    lane: t.name, labels: Array.from(t.hovertext), rows: Array.from(t.y, Number), starts: Array.from(t.base, Number),
    lengths: Array.from(t.x, Number),
  }));
  return {boxes, traces};
}
"""


def launch(pw, user_data_dir: Path):
    """A headless Chromium with a new, empty profile in `user_data_dir` (a persistent context: Playwright
    passes the folder to Chromium as ``--user-data-dir``)."""
    return pw.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT
    )


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


def set_slider(page, elem_id: str, value: float) -> None:
    """Type `value` in a slider's number box (and confirm it, as a user pressing Enter)."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
