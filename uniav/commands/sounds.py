"""`uniav sounds`: generate UniAV-Sounds (SED and AVEL clips of real recordings and pictures)."""

from __future__ import annotations

import argparse

NAME = "sounds"
HELP = (
    "generate UniAV-Sounds: SED soundscapes and AVEL clips made of real recordings and real pictures "
    "(H.264 + AAC MP4), split by source, with held-out classes for zero-shot tests; deterministic by seed"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from uniav.sounds.config import SoundsConfig

    d = SoundsConfig(root=".")
    p.add_argument(
        "out_dir", metavar="OUT_DIR", help="folder to write sed/ and avel/ into (created; resumed if present)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed: splits and clips (default 0)")
    p.add_argument(
        "--sed", type=int, default=d.sed, metavar="N", help=f"SED clips of the seen classes (default {d.sed})"
    )
    p.add_argument(
        "--avel", type=int, default=d.avel, metavar="N", help=f"AVEL clips of the seen classes (default {d.avel})"
    )
    p.add_argument(
        "--zeroshot-sed",
        type=int,
        default=d.zeroshot_sed,
        metavar="N",
        help=f"SED test clips of the held-out classes (default {d.zeroshot_sed})",
    )
    p.add_argument(
        "--zeroshot-avel",
        type=int,
        default=d.zeroshot_avel,
        metavar="N",
        help=f"AVEL test clips of the held-out classes (default {d.zeroshot_avel})",
    )
    p.add_argument("--realsounds", metavar="DIR", help=f"the realsounds folder (default {d.realsounds})")
    p.add_argument("--realpictures", metavar="DIR", help=f"the realpictures folder (default {d.realpictures})")
    p.add_argument("--workers", type=int, default=1, metavar="K", help="rendering processes (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def config_from_args(args: argparse.Namespace):
    """The `SoundsConfig` the parsed arguments describe."""
    from pathlib import Path

    from uniav.sounds.config import SoundsConfig

    folders = {k: Path(v) for k in ("realsounds", "realpictures") if (v := getattr(args, k)) is not None}
    return SoundsConfig(
        root=Path(args.out_dir),
        seed=args.seed,
        sed=args.sed,
        avel=args.avel,
        zeroshot_sed=args.zeroshot_sed,
        zeroshot_avel=args.zeroshot_avel,
        **folders,
    )


def run(args: argparse.Namespace) -> int:
    import time

    from uniav.sounds.benchmark import PARTS
    from uniav.sounds.dataset import generate, plan_benchmark
    from uniav.sounds.readme import part_summary

    config = config_from_args(args)
    t0 = time.perf_counter()
    bench = plan_benchmark(config)
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="frame", unit_scale=True, desc="rendering", dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        out = generate(config, workers=args.workers, progress=progress if bar is not None else None, benchmark=bench)
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        for part in PARTS:
            print(f"{part}: " + "; ".join(part_summary(bench, part)))
            print(f"  -> {out.annotations[part]}")
        print(f"{out.rendered} clips rendered, {out.skipped} already there; done in {time.perf_counter() - t0:.1f} s")
    return 0
