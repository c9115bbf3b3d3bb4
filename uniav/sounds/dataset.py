"""Assemble UniAV-Sounds: split the sources, plan every clip, render them (in parallel, resumably),
write the annotation files, the README and the licence note.

Layout of the root folder:

    sounds.json                         the generator settings (seed, counts, format, held-out classes)
    splits.json                         subset and source group of every realsounds / realpictures file
    README.md, LICENSES                 what it is, where it comes from, under which terms
    {sed,avel}/annotations.json         seen classes: subsets training / validation / testing
    {sed,avel}/classes.txt              one label per line; line i is label_id i
    {sed,avel}/zeroshot/annotations.json  held-out classes only, subset testing_unseen
    {sed,avel}/zeroshot/classes.txt     the held-out labels
    {sed,avel}/videos/{id}.mp4          H.264 + AAC; seen and zero-shot clips side by side

Plans are drawn in the parent process (the splits and envelopes need every recording once);
workers only render, so the output does not depend on the number of workers. A clip whose MP4
exists is not rendered again (files appear complete or not at all), and a clip's plan depends on
the seed and its index only, so a run can be resumed, or extended with larger counts.
"""

from __future__ import annotations

import json
import math
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from uniav.sounds.avel import AvelPlanner
from uniav.sounds.benchmark import PARTS, Benchmark
from uniav.sounds.catalog import Catalog, load_catalog
from uniav.sounds.config import GENERATOR_VERSION, SoundsConfig
from uniav.sounds.context import KIND_CODE, PlanContext, clip_rng
from uniav.sounds.media import PictureBank, SoundBank
from uniav.sounds.picture_map import PictureMap, load_picture_map
from uniav.sounds.plan import ClipPlan
from uniav.sounds.pools import ClassList, Pool, make_pool, vocabularies
from uniav.sounds.readme import write_licenses, write_readme
from uniav.sounds.render import iter_frames, render_audio
from uniav.sounds.sed import SedPlanner
from uniav.sounds.splits import SUBSETS, TESTING, Shares, Splits, make_splits
from uniav.synth.config import MediaSpec
from uniav.synth.dataset import ANNOTATIONS, VIDEOS, write_annotations
from uniav.synth.vocab import Kind
from uniav.synth.writer import write_mp4

SETTINGS = "sounds.json"
SPLITS = "splits.json"
ZEROSHOT = "zeroshot"
UNSEEN_SUBSET = "testing_unseen"
SUBSET_BLOCK = 20  # clips are given subsets in blocks of this many, shares exact per block


@dataclass(frozen=True)
class SoundsOutput:
    """What `generate` wrote: annotation files per part, video folders per task, clips rendered and skipped."""

    root: Path
    annotations: dict[str, Path]
    videos: dict[str, Path]
    rendered: int
    skipped: int


def clip_subsets(seed: int, kind: Kind, count: int, shares: Shares) -> list[str]:
    """The subset of clips 0..count-1: in each block of `SUBSET_BLOCK` clips the shares are exact
    (largest remainders) and the order is shuffled by (seed, kind, block), so clip i's subset does
    not depend on `count`."""
    want = np.array(shares.as_tuple()) * SUBSET_BLOCK
    per_block = np.floor(want).astype(int)
    per_block[np.argsort(-(want - per_block), kind="stable")[: SUBSET_BLOCK - per_block.sum()]] += 1
    names = np.repeat(np.arange(3), per_block)
    out = []
    for block in range(math.ceil(count / SUBSET_BLOCK)):
        order = np.random.default_rng([seed, KIND_CODE[kind], block, 7]).permutation(names)
        out.extend(SUBSETS[int(k)] for k in order)
    return out[:count]


def video_id(part: str, index: int) -> str:
    """`rs_sed_00012`, `rs_avel_zs_00003`...: "rs" for real sounds, "zs" for zero-shot."""
    task, _, zs = part.partition("_")
    return f"rs_{task}{'_zs' if zs else ''}_{index:05d}"


@dataclass(frozen=True, eq=False)
class Sources:
    """The loaded and split material, and a planning context over it."""

    catalog: Catalog
    picture_map: PictureMap
    splits: Splits
    vocabularies: dict[str, ClassList]
    context: PlanContext

    def pool(self, subset: str, zeroshot: bool = False) -> Pool:
        return make_pool(self.catalog, self.splits, self.picture_map, subset, zeroshot)


def load_sources(config: SoundsConfig) -> Sources:
    """Read the catalog and the picture map, split them (`config.seed`), and make the vocabularies."""
    catalog = load_catalog(config.realsounds, config.realpictures)
    picture_map = load_picture_map(catalog)
    splits = make_splits(catalog, picture_map, config.shares, config.seed, config.held_out)
    vocabs = vocabularies(catalog, picture_map, splits.held_out)
    bank = SoundBank(config.realsounds, config.media.sample_rate)
    ctx = PlanContext(config.media, config.envelope, bank, catalog.pictures_by_file(), picture_map)
    return Sources(catalog, picture_map, splits, vocabs, ctx)


def plan_benchmark(config: SoundsConfig) -> Benchmark:
    """Load and split the sources, then plan every clip (no rendering)."""
    src = load_sources(config)
    catalog, picture_map, splits, vocabs, ctx = src.catalog, src.picture_map, src.splits, src.vocabularies, src.context
    pools = {s: src.pool(s) for s in SUBSETS}
    zs_pool = src.pool(TESTING, zeroshot=True)
    sed = SedPlanner(ctx, config.sed_spec, vocabs["sed"])
    avel = AvelPlanner(ctx, config.avel_spec, vocabs["avel"])
    sed_zs = SedPlanner(ctx, config.sed_spec, vocabs["sed_zeroshot"])
    avel_zs = AvelPlanner(ctx, config.avel_spec, vocabs["avel_zeroshot"])
    plans: dict[str, tuple[ClipPlan, ...]] = {}
    for part, planner, kind, count in (
        ("sed", sed, Kind.SED, config.sed),
        ("avel", avel, Kind.AVEL, config.avel),
    ):
        subsets = clip_subsets(config.seed, kind, count, config.shares)
        plans[part] = tuple(
            planner.plan(video_id(part, i), subsets[i], pools[subsets[i]], clip_rng(config.seed, kind, i, False))
            for i in range(count)
        )
    for part, planner, kind, count in (
        ("sed_zeroshot", sed_zs, Kind.SED, config.zeroshot_sed),
        ("avel_zeroshot", avel_zs, Kind.AVEL, config.zeroshot_avel),
    ):
        plans[part] = tuple(
            planner.plan(video_id(part, i), UNSEEN_SUBSET, zs_pool, clip_rng(config.seed, kind, i, True))
            for i in range(count)
        )
    return Benchmark(config, catalog, picture_map, splits, vocabs, plans)


def render_clip(plan: ClipPlan, path: Path, media: MediaSpec, realsounds: Path, realpictures: Path) -> str:
    """Render one planned clip to its MP4 file; returns its id."""
    audio = render_audio(plan, realsounds)
    write_mp4(path, iter_frames(plan, media, realpictures, PictureBank(realpictures)), audio, media)
    return plan.video_id


def _render_in_worker(plan: ClipPlan, path: Path, media: MediaSpec, realsounds: Path, realpictures: Path) -> int:
    render_clip(plan, path, media, realsounds, realpictures)
    return plan.num_frames


def settings(config: SoundsConfig) -> dict:
    """The settings a folder's clips depend on (the counts excluded: clips do not depend on them)."""
    return {
        "generator": GENERATOR_VERSION,
        "seed": config.seed,
        "media": asdict(config.media),
        "shares": asdict(config.shares),
        "envelope": asdict(config.envelope),
        "sed_spec": json.loads(json.dumps(asdict(config.sed_spec))),
        "avel_spec": json.loads(json.dumps(asdict(config.avel_spec))),
        "held_out": list(config.held_out),
    }


def _check_settings(root: Path, config: SoundsConfig) -> None:
    path = root / SETTINGS
    if not path.is_file():
        return
    old = json.loads(path.read_text(encoding="utf-8"))
    old_settings = {k: v for k, v in old.items() if k in settings(config)}
    if old_settings != settings(config):
        changed = sorted(k for k in settings(config) if old_settings.get(k) != settings(config)[k])
        raise ValueError(
            f"{root} holds UniAV-Sounds made with other settings ({', '.join(changed)} differ): "
            "use another folder, or the same settings to resume"
        )


def generate(
    config: SoundsConfig,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    benchmark: Benchmark | None = None,
) -> SoundsOutput:
    """Make UniAV-Sounds under `config.root` (see the module docstring); `progress(frames_done,
    frames_total)` is called after each clip. Clips already on disk are kept."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    root = Path(config.root)
    _check_settings(root, config)
    bench = benchmark or plan_benchmark(config)
    jobs = []
    for part, plans in bench.plans.items():
        folder = root / part.split("_")[0] / VIDEOS
        folder.mkdir(parents=True, exist_ok=True)
        jobs.extend((p, folder / f"{p.video_id}.mp4") for p in plans)
    todo = [(p, path) for p, path in jobs if not path.is_file()]
    todo.sort(key=lambda j: -j[0].num_frames)  # longest first: better load balance
    total = sum(p.num_frames for p, _ in todo)
    done = 0
    args = (config.media, config.realsounds, config.realpictures)
    if workers == 1:
        for plan, path in todo:
            done += _render_in_worker(plan, path, *args)
            if progress:
                progress(done, total)
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_render_in_worker, plan, path, *args) for plan, path in todo]
            for fut in as_completed(futures):
                done += fut.result()
                if progress:
                    progress(done, total)
    annotations = write_outputs(root, bench)
    videos = {task: root / task / VIDEOS for task in ("sed", "avel")}
    return SoundsOutput(root, annotations, videos, len(todo), len(jobs) - len(todo))


def write_outputs(root: Path, bench: Benchmark) -> dict[str, Path]:
    """Annotation files and class lists of the four parts, the settings, the splits, README and LICENSES."""
    out = {}
    for part in PARTS:
        task, _, zs = part.partition("_")
        folder = root / task / (ZEROSHOT if zs else "")
        write_annotations(folder, bench.vocabularies[part].labels, bench.plans[part])
        out[part] = folder / ANNOTATIONS
    config = bench.config
    counts = {
        "sed": config.sed,
        "avel": config.avel,
        "zeroshot_sed": config.zeroshot_sed,
        "zeroshot_avel": config.zeroshot_avel,
    }
    info = {
        **settings(config),
        "counts": counts,
        "realsounds": str(config.realsounds),
        "realpictures": str(config.realpictures),
        "classes": {part: list(bench.vocabularies[part].class_names) for part in PARTS},
    }
    (root / SETTINGS).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    split_info = {
        "held_out": list(bench.splits.held_out),
        "sounds": {f: {"subset": s, "group": bench.splits.groups[f]} for f, s in sorted(bench.splits.sounds.items())},
        "pictures": dict(sorted(bench.splits.pictures.items())),
    }
    (root / SPLITS).write_text(json.dumps(split_info, indent=1) + "\n", encoding="utf-8")
    write_readme(root, bench)
    write_licenses(root, bench)
    return out
