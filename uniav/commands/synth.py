"""`uniav synth`: generate the UniAV-Synth benchmark (real MP4 media + exact annotations)."""

from __future__ import annotations

import argparse

NAME = "synth"
HELP = (
    "generate UniAV-Synth: procedural TAL / AVEL / SED videos (H.264 + AAC MP4) with annotations "
    "in the authors' JSON layout, deterministic by seed"
)

KIND_NAMES = ("tal", "avel", "sed")


def parse_kinds(text: str) -> list[str]:
    """'tal,sed' -> ['tal', 'sed'] (validated, duplicates refused)."""
    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KIND_NAMES]
    if bad or not kinds:
        raise ValueError(f"--kinds must list some of {', '.join(KIND_NAMES)}; got {text!r}")
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"--kinds lists a sub-dataset twice: {text!r}")
    return kinds


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write {tal,avel,sed}/ into (created if needed)")
    p.add_argument("--videos", type=int, default=100, metavar="N", help="videos per sub-dataset (default 100)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed; same seed, same dataset (default 0)")
    p.add_argument(
        "--sounds",
        metavar="DIR",
        help="real recordings for the SED clips: one sub-folder per label (its name, underscores as "
        "spaces) holding audio files (wav, mp3, flac, ogg, m4a...)",
    )
    p.add_argument(
        "--kinds",
        default="tal,avel,sed",
        metavar="LIST",
        help="sub-datasets to make, comma-separated (default tal,avel,sed)",
    )
    p.add_argument("--workers", type=int, default=1, metavar="K", help="rendering processes (default 1)")
    p.add_argument(
        "--max-duration",
        type=float,
        metavar="SECONDS",
        help="cap video lengths (e.g. short example clips); default: TAL 30-180 s, AVEL 10-60 s, SED 10 s",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def config_from_args(args: argparse.Namespace):
    """The `SynthConfig` the parsed arguments describe."""
    from dataclasses import replace
    from pathlib import Path

    from uniav.synth.config import DEFAULT_SPECS, SynthConfig
    from uniav.synth.vocab import Kind

    kinds = tuple(Kind(k) for k in parse_kinds(args.kinds))
    specs = dict(DEFAULT_SPECS)
    if args.max_duration is not None:
        if args.max_duration <= 0:
            raise ValueError(f"--max-duration must be positive, got {args.max_duration}")
        cap = args.max_duration
        specs = {k: replace(s, duration=(min(s.duration[0], cap), min(s.duration[1], cap))) for k, s in specs.items()}
    return SynthConfig(
        seed=args.seed,
        videos=args.videos,
        kinds=kinds,
        specs=specs,
        sounds_dir=Path(args.sounds) if args.sounds else None,
    )


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from uniav.synth.dataset import generate
    from uniav.synth.stats import kind_stats

    config = config_from_args(args)
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="frame", unit_scale=True, desc="rendering", dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    t0 = time.perf_counter()
    try:
        outputs = generate(
            config, Path(args.out_dir), workers=args.workers, progress=progress if bar is not None else None
        )
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        for out in outputs:
            print("\n".join(kind_stats(out.kind, out.plans, out.classes).lines()))
            print(f"  -> {out.annotations_path}")
        print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
