"""What a user waits for in the studio, timed in the page: Chromium (headless, Playwright) on a local app.

1. The first timeline: from the status saying "analysed" to the first bars on screen (the browser loads plotly
   with the page, so this should be well under 1 s; it was 3 s and more when plotly came with the first result).
2. A label edit: from typing a new label into the TAL labels box to the timeline showing it as a row, --edits
   times (aim: under 300 ms with the bundled model on a 10-s clip). The edit appends one new label to the
   model's training labels; TAL's threshold is 0 and its maximum 100, so the new label always has a detection
   to show. The status line's "updated in N ms" (the server's share) is collected alongside.

Times are ``performance.now()`` differences taken by a MutationObserver in the page: they include the event
going through Gradio's queue, the server's update, the transfer and plotly's redraw.

Run: .venv/bin/python benchmarks/bench_app_browser.py [--model DIR] [--clip FILE] [--edits 15]
(the default clip is ../shared/media/chaplin.mp4, 9.6 s; the default model the bundled one).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser_helpers import (  # noqa: E402
    TIME_FIRST_TIMELINE,
    TIME_LABEL_EDIT,
    expect_uploaded,
    launch,
    set_slider,
    upload,
)

MEDIA = REPO.parent / "shared" / "media"


def percentile(values: list[float], q: float) -> float:
    """The `q`-quantile (0..1) of `values`, linearly interpolated."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(name: str, values: list[float]) -> None:
    print(
        f"{name:<52} median {statistics.median(values):7.0f} ms   p90 {percentile(values, 0.9):7.0f} ms   "
        f"min {min(values):5.0f}   max {max(values):5.0f}   (n={len(values)})"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled model)")
    p.add_argument("--clip", type=Path, default=MEDIA / "chaplin.mp4")
    p.add_argument("--edits", type=int, default=15)
    p.add_argument("--pause", type=float, default=0.3, help="seconds between edits")
    args = p.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with tempfile.TemporaryDirectory(prefix="uniav-bench-browser-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, work: Path) -> int:
    from playwright.sync_api import expect, sync_playwright

    import app
    from uniav.defaults import bundled_model_dir
    from uniav.studio import Studio, StudioSettings

    model = args.model or str(bundled_model_dir())
    studio = Studio(StudioSettings(model=model, cache_dir=work / "cache", examples_dir=work / "no-examples"))
    loaded = studio.load_model(model)
    labels = list(loaded.task("TAL").labels)
    print(f"model {loaded.ref.label} ({loaded.detector.config.encoder.label}); clip {args.clip.name}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.serve(studio, port=port, block=False, quiet=True)
    try:
        with sync_playwright() as pw:
            context = launch(pw, work / "profile")
            context.set_default_timeout(60_000)
            page = context.new_page()
            page.goto(demo.local_url, wait_until="domcontentloaded")
            expect(page.locator("#run")).to_be_visible()
            set_slider(page, "threshold-TAL", 0)
            set_slider(page, "topk-TAL", 100)
            upload(page, args.clip)
            expect_uploaded(page, args.clip.name)
            expect(page.locator("#status")).to_contain_text("press Detect")
            first = page.evaluate(TIME_FIRST_TIMELINE, 120_000)
            print(f"first timeline: drawn {first['plot'] - first['status']:+.0f} ms after the status said analysed")

            edits, server = [], []
            for i in range(args.edits):
                new = f"new label {i}"
                text = "\n".join([*labels, new])
                edits.append(page.evaluate(TIME_LABEL_EDIT, ["TAL", text, new, 30_000]))
                expect(page.locator("#status")).to_contain_text("without re-encoding")
                found = re.search(r"updated in (\d+) ms", page.locator("#status").inner_text())
                if found:
                    server.append(float(found.group(1)))
                time.sleep(args.pause)
            context.close()
    finally:
        demo.close()
    print("(the machine is shared with other jobs: medians are the figures to compare)")
    summary("label edit -> timeline shows it (in the page)", edits)
    if server:
        summary("  of which the server's update (status line)", server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
