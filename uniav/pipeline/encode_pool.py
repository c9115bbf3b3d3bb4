"""Decode and encode upcoming clips in worker processes while the caller runs the network on finished ones.

`EncodePool` runs ``encoder.encode_file`` (the model's encoder behind the on-disk feature cache) for a stream of
clips in `workers` processes and hands back each clip's features (or why it failed) as soon as they are ready,
at most `ahead` clips in flight so finished features never pile up in memory. With ``workers == 0`` the same
jobs run in the calling process, one at a time, with the encoder it is given.

Workers are started with ``spawn`` (the parent may hold PyTorch's thread pools, which a fork would copy
broken) and each builds its own encoder once, from the `EncoderSpec` (weights load on first use), with its
thread pools limited to `threads` so that the workers and the main process share the cores instead of
fighting over them. That encoder is the worker process's one piece of state (`_WORKER`), set by the pool's
initializer. A clip whose encoding raises is returned as failed; a worker that dies (out of memory, a crashing
decoder) fails the clips in flight with that reason and the pool is restarted for the rest.

Importing this module loads neither NumPy nor PyTorch, so that the thread limits are in place before a worker
imports them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uniav.config import EncoderSpec
    from uniav.encoders import ClipFeatures, Encoder
    from uniav.media.grid import SnippetGrid

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
WORKER_DIED = (
    "a decoding worker process died (out of memory? a crashing decoder?) while this clip was in flight; "
    "a rerun retries it"
)

# the encoder of a worker process, built by `_init_worker` (one per process, never shared)
_WORKER: dict[str, Encoder] = {}


@dataclass(frozen=True)
class EncodeJob:
    """One clip to encode on `grids`; `key` is the caller's name for it."""

    key: Hashable
    path: Path
    grids: tuple[SnippetGrid, ...]


@dataclass(frozen=True)
class EncodeOutcome:
    """The features of a job's clip on each of its grids, or why there are none (`error`)."""

    key: Hashable
    features: dict[SnippetGrid, ClipFeatures] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def describe_error(exc: BaseException) -> str:
    """``Type: message``, the way failures are listed."""
    return f"{type(exc).__name__}: {exc}"


def run_job(encoder: Encoder, job: EncodeJob) -> EncodeOutcome:
    """Encode one clip; any error (a file that is not media, a decoder failure) becomes a failed outcome."""
    try:
        return EncodeOutcome(job.key, features=encoder.encode_file(job.path, list(job.grids)))
    except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the others; the reason is reported
        return EncodeOutcome(job.key, error=describe_error(exc))


def _init_worker(spec: EncoderSpec, cache_root: str | None, threads: int) -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    from uniav.encoders import FeatureCache, build_encoder

    _WORKER["encoder"] = build_encoder(spec, cache=FeatureCache(cache_root))


def _worker_job(job: EncodeJob) -> EncodeOutcome:
    return run_job(_WORKER["encoder"], job)


class EncodePool:
    """Features of clips, encoded in `workers` processes (0: in this process, with `inline`).

    `spec` and `cache_root` (None: the default feature cache) describe the workers' encoder; `inline` is the
    encoder used when ``workers == 0``; `threads`: the thread-pool size of each worker; `ahead`: how many
    clips may be in flight (default two per worker).
    """

    def __init__(
        self,
        spec: EncoderSpec,
        cache_root: str | Path | None,
        workers: int,
        *,
        inline: Encoder | None = None,
        threads: int = 1,
        ahead: int | None = None,
        job_fn: Callable[[EncodeJob], EncodeOutcome] = _worker_job,
    ) -> None:
        if workers < 0:
            raise ValueError(f"--workers must be 0 or more, got {workers}")
        if workers == 0 and inline is None:
            raise ValueError("an EncodePool without workers needs the encoder to run in this process")
        self.spec = spec
        self.cache_root = None if cache_root is None else str(cache_root)
        self.workers = workers
        self.inline = inline
        self.threads = max(1, threads)
        self.ahead = max(1, ahead if ahead is not None else 2 * workers)
        self._job_fn = job_fn

    def _executor(self) -> ProcessPoolExecutor:
        import multiprocessing

        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.spec, self.cache_root, self.threads),
        )

    def encode(self, jobs: Iterable[EncodeJob]) -> Iterator[EncodeOutcome]:
        """Outcomes of `jobs`, in the order they finish (in job order without workers)."""
        if self.workers == 0:
            assert self.inline is not None
            for job in jobs:
                yield run_job(self.inline, job)
            return
        yield from self._parallel(iter(jobs))

    def _parallel(self, jobs: Iterator[EncodeJob]) -> Iterator[EncodeOutcome]:
        executor = self._executor()
        pending: dict[Future[EncodeOutcome], EncodeJob] = {}
        try:
            while True:
                for job in itertools.islice(jobs, max(0, self.ahead - len(pending))):
                    pending[executor.submit(self._job_fn, job)] = job
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    job = pending.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken = True
                        yield EncodeOutcome(job.key, error=WORKER_DIED)
                if broken:  # every clip in flight is lost with the pool: report them, start a fresh pool
                    for job in pending.values():
                        yield EncodeOutcome(job.key, error=WORKER_DIED)
                    pending.clear()
                    executor.shutdown(wait=False, cancel_futures=True)
                    executor = self._executor()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)


def default_workers(cores: int) -> int:
    """Decoding processes for `cores` cores: one per core but one (left to the network), 1 to 4."""
    return min(4, max(1, cores - 1))


def plan_threads(cores: int, workers: int) -> tuple[int, int]:
    """(threads of the main process, threads of each worker) for `workers` decoding processes on `cores`
    cores: the workers (the heavy part: decoding and the encoder) share all cores but one, the main process
    (the network) keeps what they leave, at least one."""
    if workers == 0:
        return max(1, cores), 1
    per_worker = max(1, (cores - 1) // workers)
    return max(1, cores - workers * per_worker), per_worker


def cores_available() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS says, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
