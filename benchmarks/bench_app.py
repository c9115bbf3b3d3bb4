"""Server time of the studio's live-edit handler: three tasks with 100 labels each, on an analysed clip.

The handler (`Studio.update`, what every edit of a template, a label list or a threshold runs) reuses the
clip's analysis: only changed vocabularies run the text side, the classification head and decoding +
Soft-NMS; a threshold or maximum edit only filters; then the timeline figure, the table and the two
download files are rebuilt. Aim (issue 5): under 300 ms with the bundled-size model.

Cases per clip, each the median (and min) of --repeat calls, at --threshold (default 0.1) and max 100
detections per task
(the most the page allows, so the figure and table are as big as they get):
  threshold edit                  all three vocabularies unchanged
  one new label in one task       typing a label in one task's list
  one new label in each task      three vocabularies changed, one unseen prompt each
  all 300 labels new              switching presets on all three tasks (300 unseen prompts)
followed by the parts: detection of the three tasks with nothing reused, the figure, the table, the files,
Gradio's JSON encoding of the figure (part of the server's response); and at the end the full round trip
of the app's /update endpoint through gradio_client on localhost (queue + HTTP + (de)serialisation).

Model: --model, default the bundled model (checkpoints/uniav-sounds) when present, else a stand-in of the same
kind and at least its size (the `signal` encoder, D=128, the paper's three tasks, 8.3 M parameters).
Clips: chaplin.mp4 (9.6 s), big_buck_bunny_30s.webm (30 s) and a generated --long-minutes clip (windows!).

Run: .venv/bin/python benchmarks/bench_app.py [--model DIR] [--repeat 7] [--long-minutes 10] [--no-http]
(benchmarks/bench_app_browser.py times the same edits in Chromium, from the keystroke to the redrawn timeline.)
"""

from __future__ import annotations

import argparse
import itertools
import socket
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import report, timeit  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"
TASKS = ("TAL", "AVEL", "SED")
TEMPLATES = {
    "TAL": "A visual event of {label}.",
    "AVEL": "An audio visual event of {label}.",
    "SED": "A sound event of {label}.",
}


def stand_in_model(folder: Path) -> Path:
    import torch

    from uniav.config import EncoderSpec, ModelConfig
    from uniav.model.uniav import UniAV

    torch.manual_seed(0)
    cfg = ModelConfig.preset(
        "small", encoder=EncoderSpec.uniform("signal"), visual_dim=384, audio_dim=256, text_dim=512, droppath=0.0
    )
    UniAV(cfg).save_pretrained(folder)
    return folder


def vocabularies() -> dict[str, list[str]]:
    from uniav.vocabularies import load_vocabulary

    anet = list(load_vocabulary("activitynet13"))
    return {"TAL": anet[:100], "AVEL": list(load_vocabulary("unav100")), "SED": [f"{x} sound" for x in anet[100:200]]}


THRESHOLD = [0.1]  # the score threshold of every case (--threshold; the app's default)


def task_settings(vocab: dict[str, list[str]]):
    from uniav.studio import TaskSettings

    return {t: TaskSettings(TEMPLATES[t], "\n".join(vocab[t]), threshold=THRESHOLD[0], top_k=100) for t in TASKS}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--long-minutes", type=float, default=10.0, help="length of the generated clip (0: none)")
    p.add_argument("--no-http", action="store_true", help="skip the gradio_client round trip")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the handler is one request's work)")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.1,
        help="score threshold of the panels (default 0.1, the app's default; 0 keeps every candidate)",
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="uniav-bench-app-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, work: Path) -> int:
    import torch

    from tests.helpers import write_test_clip
    from uniav.defaults import bundled_model_dir
    from uniav.studio import Studio, StudioSettings

    torch.set_num_threads(args.threads)
    THRESHOLD[0] = args.threshold
    print(f"score threshold {args.threshold}, max 100 detections per task, {args.threads} torch thread(s)")
    if args.model:
        model = args.model
    elif bundled_model_dir().is_dir():
        model = str(bundled_model_dir())
    else:
        model = str(stand_in_model(work / "stand-in"))
    studio = Studio(StudioSettings(model=model, cache_dir=work / "cache", examples_dir=work))
    loaded = studio.load_model(model)
    params = sum(x.numel() for x in loaded.detector.model.parameters())
    print(
        f"model {loaded.ref.label}: {params / 1e6:.2f} M parameters, encoder {loaded.detector.config.encoder.label}, "
        f"tasks {', '.join(f'{t.name}({t.num_classes})' for t in loaded.detector.config.tasks)}; "
        f"torch threads {torch.get_num_threads()}"
    )

    clips = [MEDIA / "chaplin.mp4", MEDIA / "big_buck_bunny_30s.webm"]
    if args.long_minutes > 0:
        long_clip = work / f"generated_{args.long_minutes:g}min.mp4"
        t0 = time.perf_counter()
        write_test_clip(long_clip, seconds=60 * args.long_minutes)
        print(f"generated {long_clip.name} in {time.perf_counter() - t0:.1f} s")
        clips.append(long_clip)

    vocab = vocabularies()
    base = task_settings(vocab)
    for clip in clips:
        bench_clip(studio, model, clip, vocab, base, args.repeat)

    if not args.no_http:
        http_round_trip(studio, model, clips[0], base, args.repeat)
    return 0


def bench_clip(studio, model: str, clip: Path, vocab: dict[str, list[str]], base, repeat: int) -> None:
    from uniav.studio import Session, detection_table, timeline_figure, write_downloads

    session = Session()
    t0 = time.perf_counter()
    studio.analyze(session, str(clip), model, TASKS, base)
    analysed = time.perf_counter() - t0
    analysis = session.clip.analysis
    print(
        f"\n{clip.name}: {analysis.duration:.1f} s, analysed (decode + encode + model) in {analysed:.2f} s; "
        f"windows { ({t: len(a.windows) for t, a in analysis.tasks.items()}) }"
    )
    counter = itertools.count()
    thresholds = itertools.cycle([THRESHOLD[0] + 0.05, THRESHOLD[0] + 0.1])

    def threshold_edit():
        settings = {t: replace(s, threshold=next(thresholds)) for t, s in base.items()}
        return studio.update(session, TASKS, settings)

    def new_labels(tasks, all_labels=False):
        i = next(counter)
        fresh = {
            t: ([f"{x} take {i}" for x in v] if all_labels else v[:-1] + [f"new label {i}"]) if t in tasks else v
            for t, v in vocab.items()
        }
        return studio.update(session, TASKS, task_settings(fresh))

    cases = {
        "update, threshold edit (3 x 100 labels)": threshold_edit,
        "update, one new label in one task": lambda: new_labels(["SED"]),
        "update, one new label in each task": lambda: new_labels(TASKS),
        "update, all 300 labels new": lambda: new_labels(TASKS, all_labels=True),
    }
    for name, fn in cases.items():
        med, best = timeit(fn, repeat=repeat)
        report(name, med, f"min {best * 1000:.1f} ms")

    def detect_all():  # the three tasks' text side + head + decoding + NMS, nothing reused
        session.clip.scored.clear()
        return studio.detect(session, TASKS, base)

    result = detect_all()
    n = sum(len(r.detections) for r in result.tasks.values())
    parts = {
        "  detect, 3 tasks (text side + head + decoding + NMS)": detect_all,
        "  timeline figure": lambda: timeline_figure(result, {t: 0.0 for t in TASKS}),
        "  table": lambda: detection_table(result),
        "  download files": lambda: write_downloads(result, session.folder()),
    }
    for name, fn in parts.items():
        med, _ = timeit(fn, repeat=repeat)
        report(name, med, f"{n} detections" if name.startswith("  detect") else "")
    fig = timeline_figure(result, {t: 0.0 for t in TASKS})
    med, _ = timeit(fig.to_json, repeat=repeat)
    report("  figure to JSON (Gradio's postprocess)", med, f"{len(fig.to_json()) / 1024:.0f} KiB")
    session.close()


def http_round_trip(studio, model: str, clip: Path, base, repeat: int) -> None:
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client, handle_file

    import app
    from uniav.studio import TaskFields

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.serve(studio, port=port, block=False, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False, analytics_enabled=False, download_files=False)
        values = {}
        for t in TASKS:
            names = TaskFields(t)
            values.update(
                {
                    names.template: base[t].template,
                    names.labels: base[t].labels_text,
                    names.threshold: base[t].threshold,
                    names.top_k: base[t].top_k,
                }
            )
        client.predict(file=handle_file(str(clip)), model=model, tasks=list(TASKS), **values, api_name="/run")
        med, best = timeit(lambda: client.predict(tasks=list(TASKS), **values, api_name="/update"), repeat=repeat)
        print()
        report(f"/update round trip via gradio_client ({clip.name})", med, f"min {best * 1000:.1f} ms")
    finally:
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
