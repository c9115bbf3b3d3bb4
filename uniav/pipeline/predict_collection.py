"""``uniav predict`` over a collection: this rank's share of the clips, resumable, decoded in worker processes
while the main process runs the network, with one progress bar and a summary.

The run (`predict_collection`), for rank r of w (``RANK`` / ``WORLD_SIZE`` of torchrun; 0 of 1 alone):

1. the rank takes every w-th clip of the collection sorted by name, starting at r (`uniav.data.extract.shard`,
   as ``uniav extract`` does), and sorts out with `resume_status` which are done already;
2. each clip to run is hashed and looked up in the result cache; a miss goes to the `EncodePool` (the
   model's encoder in ``workers`` processes, through the feature cache), and its features, once ready, to
   `ClipPredictor.from_features` in this process (the `Detector`'s network and post-processing);
3. each finished clip's JSON is written atomically; a clip that fails is listed with the reason and the
   rest go on;
4. the rank writes its summary and failures (`RankFiles`), then merges every rank's into ``summary.csv`` and
   ``failures.json`` if it finds them all done (the last rank to finish does).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from uniav.distributed import DistInfo
from uniav.pipeline.collection import (
    Clip,
    Failure,
    RankFiles,
    Stamp,
    Status,
    merge_rank_summaries,
    output_path,
    read_record,
    record_of,
    resume_status,
    write_done,
    write_failures,
    write_json,
    write_summary,
)
from uniav.pipeline.encode_pool import EncodeJob, EncodeOutcome, EncodePool, describe_error
from uniav.pipeline.predictor import ClipPredictor
from uniav.pipeline.results import DetectionResult


@dataclass(frozen=True)
class CollectionOptions:
    """How to run a collection: the output folder, decoding processes (0: none, all in this process) and
    the threads of each, this process's rank, and whether to show a progress bar."""

    out_dir: Path
    workers: int = 1
    worker_threads: int = 1
    dist: DistInfo = field(default_factory=DistInfo)
    progress: bool = True


@dataclass
class CollectionSummary:
    """What one rank did with its share of the collection (clip names per outcome)."""

    rank: int
    world_size: int
    assigned: int = 0
    statuses: dict[str, Status] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    from_cache: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    merged: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for s in self.statuses.values() if s is status)

    def line(self) -> str:
        skipped = self.count(Status.DONE) + self.count(Status.TOUCHED)
        to_run = sum(1 for s in self.statuses.values() if s.to_run)
        return (
            f"rank {self.rank}/{self.world_size}: {self.assigned} clips: {skipped} already done "
            f"({self.count(Status.TOUCHED)} of them touched but unchanged); {to_run} to run "
            f"({self.count(Status.NEW)} new, {self.count(Status.CHANGED)} changed, {self.count(Status.OUTDATED)} "
            f"made with other settings): {len(self.ran)} done ({len(self.from_cache)} from the result cache); "
            f"{len(self.failures)} failed"
        )


def shard_clips(clips: Sequence[Clip], dist: DistInfo) -> list[Clip]:
    """This rank's share of the clips: every `world_size`-th of the list sorted by name, from `rank`."""
    from uniav.data.extract import shard

    by_name = {c.name: c for c in clips}
    return [by_name[n] for n in shard(list(by_name), dist.rank, dist.world_size)]


class _Run:
    """The state of one rank's run: the predictor, the outcomes so far and the progress bar."""

    def __init__(
        self, predictor: ClipPredictor, clips: Sequence[Clip], opts: CollectionOptions, summary: CollectionSummary
    ) -> None:
        self.predictor = predictor
        self.opts = opts
        self.summary = summary
        self.settings = predictor.settings_digest()
        self.clips = {c.name: c for c in clips}
        self.stats: dict[str, os.stat_result] = {}
        self.stamps: dict[str, Stamp] = {}
        self.failed: set[str] = set()
        self.bar: tqdm | None = None

    # ---- the steps of one clip --------------------------------------------------------------------------------
    def triage(self, clip: Clip) -> Status | None:
        """The clip's status, refreshing the record of a touched clip (None: it failed already)."""
        try:
            st = os.stat(clip.path)
        except OSError as exc:
            reason = "file not found" if isinstance(exc, FileNotFoundError) else str(exc)
            self.fail(clip, f"{type(exc).__name__}: {clip.path}: {reason}")
            return None
        if not Path(clip.path).is_file():
            self.fail(clip, f"{clip.path}: not a file")
            return None
        out = output_path(self.opts.out_dir, clip)
        record = read_record(out)
        status = resume_status(
            record, st.st_size, st.st_mtime_ns, self.settings, lambda: self.predictor.encoder.content_sha(clip.path)
        )
        if status is Status.TOUCHED and record is not None:  # same content: keep the output, refresh its stamp
            write_json(out, {**record, "input": self._stamp(clip, st).to_dict()})
        self.stats[clip.name] = st
        return status

    def _stamp(self, clip: Clip, st: os.stat_result) -> Stamp:
        return Stamp(st.st_size, st.st_mtime_ns, self.predictor.encoder.content_sha(clip.path))

    def jobs(self, todo: Sequence[Clip]) -> Iterator[EncodeJob]:
        """Encoding jobs of the clips to run; a clip found in the result cache is finished here instead."""
        grids = tuple(dict.fromkeys(self.predictor.request.grids().values()))
        for clip in todo:
            try:  # hashed here, as the clip comes up
                self.stamps[clip.name] = self._stamp(clip, self.stats[clip.name])
            except OSError as exc:  # gone or unreadable since the triage
                self.fail(clip, describe_error(exc))
                continue
            cached = self.predictor.cached(clip.path, self.stamps[clip.name].sha256)
            if cached is not None:
                self.summary.from_cache.append(clip.name)
                self.finish(clip, cached)
                continue
            yield EncodeJob(clip.name, Path(clip.path), grids)

    def consume(self, outcome: EncodeOutcome) -> None:
        """Run the network on a clip's features and write its output (or list why it failed)."""
        clip = self.clips[str(outcome.key)]
        if not outcome.ok or outcome.features is None:
            self.fail(clip, outcome.error or "no features")
            return
        self.predictor.load_model()  # outside the per-clip guard: a model that cannot load stops the run
        try:
            result = self.predictor.from_features(clip.path, self.stamps[clip.name].sha256, outcome.features)
        except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the others; the reason is reported
            self.fail(clip, describe_error(exc))
            return
        self.finish(clip, result)

    def finish(self, clip: Clip, result: DetectionResult) -> None:
        write_json(output_path(self.opts.out_dir, clip), record_of(result, self.stamps[clip.name], self.settings))
        self.summary.ran.append(clip.name)
        self._advance()

    def fail(self, clip: Clip, error: str) -> None:
        self.summary.failures.append(Failure(str(clip.path), error))
        self.failed.add(clip.name)
        output_path(self.opts.out_dir, clip).unlink(missing_ok=True)  # an output of an earlier version is stale
        tqdm.write(f"failed {clip.name}: {error}", file=sys.stderr)
        self._advance()

    def _advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=len(self.summary.failures), refresh=False)


def predict_collection(predictor: ClipPredictor, clips: Sequence[Clip], opts: CollectionOptions) -> CollectionSummary:
    """Run this rank's share of `clips` (see the module docstring); returns what it did."""
    dist = opts.dist
    if not predictor.encoder.cacheable:
        raise ValueError(
            "this model reads precomputed features (its input is a video id, not a media file): predict one "
            "id at a time"
        )
    mine = shard_clips(clips, dist)
    summary = CollectionSummary(dist.rank, dist.world_size, assigned=len(mine))
    run = _Run(predictor, mine, opts, summary)
    files = RankFiles.of(opts.out_dir, dist.rank, dist.world_size)
    if files.done is not None:
        files.done.unlink(missing_ok=True)  # this rank is not done (until the end of this run)
    Path(opts.out_dir).mkdir(parents=True, exist_ok=True)

    todo = []
    for clip in mine:
        status = run.triage(clip)
        if status is not None:
            summary.statuses[clip.name] = status
            if status.to_run:
                todo.append(clip)
    run.bar = tqdm(
        total=len(mine),
        initial=len(mine) - len(todo),
        desc="predict" if dist.world_size == 1 else f"predict rank {dist.rank}/{dist.world_size}",
        unit="clip",
        disable=not opts.progress,
        position=dist.local_rank if dist.world_size > 1 else None,
        dynamic_ncols=True,
    )
    run.bar.set_postfix(failed=len(summary.failures), refresh=False)
    pool = EncodePool(
        predictor.request.encoder,
        predictor.request.feature_cache,
        opts.workers,
        inline=predictor.encoder,
        threads=opts.worker_threads,
    )
    try:
        for outcome in pool.encode(run.jobs(todo)):
            run.consume(outcome)
    finally:
        run.bar.close()

    done = sorted((c for c in mine if c.name not in run.failed), key=lambda c: str(c.path))
    results = (DetectionResult.from_dict(r) for c in done if (r := read_record(output_path(opts.out_dir, c))))
    write_summary(files.summary, results)
    write_failures(files.failures, summary.failures)
    write_done(files, run.settings, len(mine), len(summary.failures))
    summary.merged = dist.world_size == 1 or merge_rank_summaries(opts.out_dir, dist.world_size, run.settings)
    return summary
