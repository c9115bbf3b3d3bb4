"""`uniav predict`: detect events in a video or audio file and write them as JSON or CSV."""

from __future__ import annotations

import argparse

NAME = "predict"
HELP = "localize actions (TAL), audio-visual events (AVEL) and sound events (SED) in a media file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="video (mp4, webm, mkv, avi, mov) or audio file (wav, mp3, flac, ogg, m4a)")
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
    p.add_argument("--threshold", type=float, default=0.1, help="minimum score of a detection (default 0.1)")
    p.add_argument("--top-k", type=int, default=50, help="at most this many detections per task (default 50)")
    p.add_argument(
        "--format",
        choices=("json", "csv"),
        default=None,
        help="output format (default: from the -o extension, else json)",
    )
    p.add_argument("-o", "--output", default=None, help="write here instead of standard output")
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
    import sys
    from pathlib import Path

    from tqdm import tqdm

    from uniav.commands.convert_official import parse_assignments
    from uniav.defaults import default_model
    from uniav.encoders import FeatureCache
    from uniav.pipeline.detector import Detector
    from uniav.vocabularies import parse_vocabulary

    if args.top_k is not None and args.top_k < 1:
        raise ValueError("--top-k must be at least 1")
    vocabs = {}
    for task, file in parse_assignments(args.vocab, "--vocab").items():
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"vocabulary file not found: {path}")
        vocabs[task] = parse_vocabulary(path.read_text(encoding="utf-8"))
    templates = parse_assignments(args.template, "--template")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None

    options = {}
    for item in args.encoder_option or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--encoder-option must look like KEY=VALUE, got {item!r}")
        options[key.strip()] = value.strip()
    detector = Detector.from_pretrained(
        args.model or default_model(),
        revision=args.revision,
        device=args.device,
        feature_cache=FeatureCache(args.cache_dir) if args.cache_dir else None,
        encoder_options=options,
    )
    bar = tqdm(
        total=100, desc="loading", disable=args.quiet, leave=False, bar_format="{percentage:3.0f}%|{bar:30}| {desc}"
    )

    def progress(frac: float, what: str) -> None:
        bar.n = round(100 * frac)
        bar.set_description_str(what, refresh=False)
        bar.refresh()

    try:
        result = detector.run(
            args.file,
            tasks=tasks,
            vocabularies=vocabs,
            templates=templates,
            threshold=args.threshold,
            top_k=args.top_k,
            progress=progress,
        )
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
