"""`uniav predict`: detect events in a video or audio file, or in a collection of them, and write them as JSON
(or CSV for one file).

    uniav predict clip.mp4                               # JSON on standard output
    uniav predict clip.mp4 -o clip.csv                   # one file: -o FILE, format from the extension
    uniav predict videos/ -o preds/                      # a folder (recursive): preds/{name}.json + summary.csv
    uniav predict list.txt more.mp4 -o preds/ --workers 3
    torchrun --nproc-per-node 4 -m uniav predict videos/ -o preds/    # shared by 4 processes

A rerun skips what is done (see `uniav.pipeline.collection`); detections are cached per clip and vocabulary
(`uniav.pipeline.result_cache`), so a rerun on a cached clip decodes nothing and needs no PyTorch.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from uniav.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_K

if TYPE_CHECKING:
    from uniav.pipeline.predictor import ClipPredictor

NAME = "predict"
HELP = (
    "localize actions (TAL), audio-visual events (AVEL) and sound events (SED) in a media file, or in a "
    "collection of them (folders, manifests; resumable, shardable with torchrun)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="a video (mp4, webm, mkv, avi, mov) or audio file (wav, mp3, flac, ogg, m4a); several, a folder "
        "(searched recursively for media files) or a manifest (.txt: one path per line; .csv: a 'path' column; "
        "relative paths are relative to the manifest) make a collection, written to -o DIR",
    )
    p.add_argument(
        "--model",
        default=None,
        help="model folder or Hugging Face Hub repo id (default: $UNIAV_MODEL or the bundled model)",
    )
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
    p.add_argument("--tasks", default=None, help="comma-separated subset of the model's tasks, e.g. tal,sed")
    p.add_argument(
        "--vocab",
        action="append",
        metavar="TASK=FILE",
        help="replace a task's labels with those in FILE (one per line); repeatable",
    )
    p.add_argument(
        "--template",
        action="append",
        metavar="TASK=TEXT",
        help="prompt template of a task, with {label}, e.g. 'SED=the sound of {label}'; repeatable",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"minimum score of a detection (default {DEFAULT_THRESHOLD})",
    )
    p.add_argument(
        "--top-k",
        type=int,
        default=DEFAULT_TOP_K,
        help=f"at most this many detections per task, the best (default {DEFAULT_TOP_K})",
    )
    p.add_argument(
        "--format",
        choices=("json", "csv"),
        default=None,
        help="output format (default: from the -o extension, else json)",
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="one file: write here instead of standard output (an existing folder: as a collection of one); a "
        "collection: the folder for one JSON per clip, summary.csv and failures.json (required)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="a collection: processes decoding and encoding upcoming clips while the model runs (0: all in one "
        "process; default: the cores but one, 1 to 4)",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="merge the per-rank summaries in -o DIR of a finished multi-process run into summary.csv and "
        "failures.json (done automatically by the last rank to finish) and exit",
    )
    p.add_argument(
        "--encoder-option",
        action="append",
        metavar="KEY=VALUE",
        help="extra option of the model's encoder, e.g. feature_dir=DIR for precomputed ONE-PEACE "
        "features (then FILE is a video id); repeatable",
    )
    p.add_argument("--cache-dir", default=None, help="feature cache folder (default $UNIAV_CACHE or ~/.cache/uniav)")
    p.add_argument("--device", default="cpu", help="torch device for the model (cpu, cuda, ...)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.merge:
        return _merge(args)
    if not args.inputs:
        raise ValueError("give a media file, several, a folder or a manifest of clips")
    from pathlib import Path

    from uniav.pipeline.collection import is_collection

    into_folder = args.output is not None and Path(args.output).is_dir()
    return _run_collection(args) if is_collection(args.inputs) or into_folder else _run_file(args)


def _predictor(args: argparse.Namespace) -> ClipPredictor:
    """The predictor the arguments describe (the model is resolved, not loaded)."""
    from pathlib import Path

    from uniav.commands.args import parse_options, parse_tasks, vocabularies_from_args
    from uniav.defaults import default_model
    from uniav.pipeline.predictor import ClipPredictor, ModelRef, PredictRequest
    from uniav.pipeline.result_cache import ResultCache

    model = ModelRef.resolve(args.model or default_model(), revision=args.revision)
    request = PredictRequest.build(
        model,
        parse_tasks(args.tasks),
        vocabularies_from_args(model.config, args.vocab, args.template),
        parse_options(args.encoder_option),
        threshold=args.threshold,
        top_k=args.top_k,
        device=args.device,
        feature_cache=Path(args.cache_dir) if args.cache_dir else None,
    )
    return ClipPredictor(request, ResultCache(Path(args.cache_dir) / "results" if args.cache_dir else None))


def _print_model(predictor: ClipPredictor) -> None:
    import sys

    print(f"model {predictor.request.model.name}:", file=sys.stderr)
    for line in predictor.knowledge.lines():
        print(f"  {line}", file=sys.stderr)


def _run_file(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from tqdm import tqdm

    predictor = _predictor(args)
    _print_model(predictor)
    bar = tqdm(
        total=100, desc="loading", disable=args.quiet, leave=False, bar_format="{percentage:3.0f}%|{bar:30}| {desc}"
    )

    def progress(frac: float, what: str) -> None:
        bar.n = round(100 * frac)
        bar.set_description_str(what, refresh=False)
        bar.refresh()

    try:
        result = predictor.predict(args.inputs[0], progress)
    finally:
        bar.close()
    fmt = args.format or ("csv" if args.output and args.output.lower().endswith(".csv") else "json")
    text = result.to_csv() if fmt == "csv" else result.to_json() + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for task, why in result.skipped.items():
        print(f"note: {task} not run: {why}", file=sys.stderr)
    return 0


def _run_collection(args: argparse.Namespace) -> int:
    import os
    import sys
    from pathlib import Path

    import torch

    from uniav.distributed import DistInfo
    from uniav.pipeline.collection import FAILURES_FILE, SUMMARY_FILE, RankFiles, gather_clips
    from uniav.pipeline.encode_pool import cores_available, default_workers, plan_threads
    from uniav.pipeline.predict_collection import CollectionOptions, predict_collection

    if args.output is None:
        raise ValueError("a collection needs -o/--output DIR: the folder for one JSON per clip and the summary")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {out}: a collection writes a folder, and this is a file")
    if args.format == "csv":
        raise ValueError("--format csv is for one file; a collection writes a JSON per clip and summary.csv")
    dist = DistInfo.from_env()
    cores = max(1, cores_available() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    workers = default_workers(cores) if args.workers is None else args.workers
    if workers < 0:
        raise ValueError(f"--workers must be 0 or more, got {workers}")
    main_threads, worker_threads = plan_threads(cores, workers)
    if workers:  # leave the workers their cores
        torch.set_num_threads(main_threads)
    clips = gather_clips(args.inputs)
    predictor = _predictor(args)
    if dist.is_main:
        _print_model(predictor)
    opts = CollectionOptions(out, workers, worker_threads, dist, progress=not args.quiet)
    summary = predict_collection(predictor, clips, opts)
    print(summary.line(), file=sys.stderr)
    files = RankFiles.of(out, dist.rank, dist.world_size)
    if summary.merged:
        print(f"  summary: {out / SUMMARY_FILE}; failures: {out / FAILURES_FILE}", file=sys.stderr)
    else:
        print(
            f"  this rank's summary: {files.summary}; merged into {out / SUMMARY_FILE} by the last rank to finish "
            f"(or: uniav predict --merge -o {out})",
            file=sys.stderr,
        )
    return 0


def _merge(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from uniav.pipeline.collection import SUMMARY_FILE, RankFiles, find_world_sizes, merge_rank_summaries

    if args.output is None or args.inputs:
        raise ValueError("--merge takes no input, only -o DIR: the output folder of a multi-process run")
    out = Path(args.output)
    sizes = find_world_sizes(out)
    if len(sizes) != 1:
        found = ", ".join(map(str, sizes)) or "none"
        raise ValueError(f"{out}: expected the rank summaries of one multi-process run; world sizes found: {found}")
    world = sizes[0]
    if not merge_rank_summaries(out, world):
        missing = [r for r in range(world) if not RankFiles.of(out, r, world).done.is_file()]  # type: ignore[union-attr]
        why = f"ranks {missing} are not done" if missing else "the ranks ran with different settings"
        raise ValueError(f"{out}: cannot merge the {world} ranks' summaries: {why}")
    print(f"merged {world} ranks into {out / SUMMARY_FILE}", file=sys.stderr)
    return 0
