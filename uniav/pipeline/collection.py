"""A collection of clips for ``uniav predict``: its inputs, its outputs, what a resumed run may skip, and the
summaries of the ranks that share it. Pure functions on paths and files; the run itself is
`uniav.pipeline.predict_collection`.

Inputs (`gather_clips`): media files, folders (searched recursively for media extensions) and manifests
(``.txt``: one path per line, blank lines and ``#`` comments ignored; ``.csv``: a ``path`` column); a
relative path in a manifest is relative to the manifest's folder. Each clip gets a `Clip.name`: its path
relative to the folder or manifest it came from (a file given directly: its file name; a manifest entry
outside the manifest's folder: its absolute path without the root). The name sorts and shards the
collection and names the clip's output, ``OUT/{name}.json`` (``OUT/sub/clip.mp4.json``).

Outputs: the clip's `DetectionResult` JSON plus two fields for resuming, ``input`` (the clip's size, mtime
and SHA-256 when it was read) and ``settings`` (the digest of model, encoder, tasks, vocabularies,
threshold and top-k it was made with), written atomically once the clip is complete. `resume_status` says
what a later run does with it: a clip whose record matches its size, mtime and settings is done; a clip
whose mtime or size changed is hashed and redone only if its content changed; new settings redo it.

Summaries: with one process, ``OUT/summary.csv`` (every detection of every clip done, columns
``file,task,label,start,end,score``, by file) and ``OUT/failures.json`` (``[{"file", "error"}]``). With
``world_size`` processes each rank writes ``summary-rank{r}-of-{w}.csv``, ``failures-rank{r}-of-{w}.json``
and last ``done-rank{r}-of-{w}.json``; the rank that finds every rank done (with the same settings) merges
them into ``summary.csv`` and ``failures.json`` (`merge_rank_summaries`; ``uniav predict --merge`` again).
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from uniav.pipeline.results import DetectionResult

MANIFEST_SUFFIXES = (".txt", ".csv")
SUMMARY_FILE = "summary.csv"
FAILURES_FILE = "failures.json"
SUMMARY_COLUMNS = ("file", "task", "label", "start", "end", "score")
MANIFEST_PATH_COLUMN = "path"


class CollectionError(ValueError):
    """Inputs that do not make a collection (an unreadable manifest, two clips with one output name...)."""


# ---- inputs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Clip:
    """A clip of the collection: `name` (POSIX relative path; sorts, shards and names the output) and `path`."""

    name: str
    path: Path


def is_manifest(path: str | Path) -> bool:
    """Whether `path` names a manifest (``.txt`` or ``.csv``) rather than a media file."""
    return Path(path).suffix.lower() in MANIFEST_SUFFIXES


def is_collection(inputs: Sequence[str | Path]) -> bool:
    """Whether the inputs make a collection (several, a folder or a manifest) rather than one media file."""
    return len(inputs) != 1 or Path(inputs[0]).is_dir() or is_manifest(inputs[0])


def read_manifest(path: str | Path) -> list[Path]:
    """The clip paths a manifest lists, relative ones resolved against the manifest's folder."""
    manifest = Path(path)
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"manifest not found: {manifest}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CollectionError(f"{manifest}: cannot read the manifest ({exc})") from None
    if manifest.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        columns = [c.strip() for c in reader.fieldnames or ()]
        if MANIFEST_PATH_COLUMN not in columns:
            raise CollectionError(
                f"{manifest}: a CSV manifest needs a '{MANIFEST_PATH_COLUMN}' column; its columns are "
                f"{', '.join(columns) or 'none'}"
            )
        reader.fieldnames = columns
        entries = [(row.get(MANIFEST_PATH_COLUMN) or "").strip() for row in reader]
    else:
        entries = [line.strip() for line in text.splitlines()]
        entries = [e for e in entries if not e.startswith("#")]
    return [manifest.parent / Path(e).expanduser() for e in entries if e]


def scan_folder(folder: str | Path) -> list[Path]:
    """The media files under `folder`, recursively (media extensions only; hidden files and folders skipped,
    links to folders not followed, so a link loop cannot trap the search)."""
    from uniav.data.extract import MEDIA_EXTENSIONS  # (that module loads PyTorch: only for collections)

    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root) / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in MEDIA_EXTENSIONS]
    return sorted(found)


def clip_name(path: Path, base: Path) -> str:
    """`path` relative to `base` (POSIX), or, for a path outside `base`, its absolute path without the root."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.path.abspath(base)).as_posix()
    except ValueError:
        return absolute.relative_to(absolute.anchor).as_posix()


def gather_clips(inputs: Sequence[str | Path]) -> list[Clip]:
    """The clips of `inputs` (media files, folders, manifests), sorted by name, each file once.

    A missing media file or manifest entry stays in the list (it is reported as a failed clip); a missing
    manifest raises. Two different files with one name (e.g. ``a/x.mp4`` and ``b/x.mp4`` given as files)
    raise `CollectionError`: list them in one manifest, or give their common folder."""
    if not inputs:
        raise CollectionError("no input: give media files, folders or manifests")
    by_name: dict[str, Clip] = {}
    for item in inputs:
        src = Path(item).expanduser()
        if src.is_dir():
            pairs = [(p, clip_name(p, src)) for p in scan_folder(src)]
        elif is_manifest(src):
            pairs = [(p, clip_name(p, src.parent)) for p in read_manifest(src)]
        else:
            pairs = [(src, src.name)]
        for path, name in pairs:
            clip = Clip(name, path)
            other = by_name.setdefault(name, clip)
            if other.path != path and os.path.abspath(other.path) != os.path.abspath(path):
                raise CollectionError(
                    f"two inputs would share the output name {name!r}: {other.path} and {path}; list them in one "
                    "manifest or give their common folder"
                )
    return sorted(by_name.values())


def output_path(out_dir: str | Path, clip: Clip) -> Path:
    """Where the clip's JSON goes: ``OUT/{name}.json``."""
    return Path(out_dir) / f"{clip.name}.json"


# ---- resuming -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    """A clip file as it was read: size, modification time (ns) and content SHA-256."""

    size: int
    mtime_ns: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}


class Status(StrEnum):
    """What a run does with a clip, given the record of an earlier run."""

    NEW = "new"  # no (readable) output yet: run it
    DONE = "done"  # output made with these settings from this very file (same size and mtime): skip
    TOUCHED = "touched"  # mtime changed, content (SHA-256) did not: skip, refresh the record
    CHANGED = "changed"  # the content changed: run it again
    OUTDATED = "outdated"  # output made with other settings (model, vocabulary, threshold...): run it again

    @property
    def to_run(self) -> bool:
        return self in (Status.NEW, Status.CHANGED, Status.OUTDATED)


def resume_status(
    record: Mapping[str, Any] | None, size: int, mtime_ns: int, settings: str, content_sha: Callable[[], str]
) -> Status:
    """What to do with a clip of this size and mtime, whose earlier output is `record` (None: none); the
    content is hashed (`content_sha`) only when the size is the same and the mtime is not."""
    if record is None:
        return Status.NEW
    if record.get("settings") != settings:
        return Status.OUTDATED
    stamp = record.get("input") or {}
    if stamp.get("size") != size:
        return Status.CHANGED
    if stamp.get("mtime_ns") == mtime_ns:
        return Status.DONE
    return Status.TOUCHED if content_sha() == stamp.get("sha256") else Status.CHANGED


def read_record(path: str | Path) -> dict[str, Any] | None:
    """A clip's output JSON, or None when it is missing or unreadable (then the clip is run again)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and "tasks" in doc else None


def record_of(result: DetectionResult, stamp: Stamp, settings: str) -> dict[str, Any]:
    """The clip's output: the result's JSON (the schema of ``uniav predict``) plus ``input`` and ``settings``."""
    return {**result.to_dict(), "input": stamp.to_dict(), "settings": settings}


def write_json(path: str | Path, doc: Any) -> None:
    """Write `doc` as JSON atomically (a temporary file in the same folder, then a rename)."""
    with atomic_writer(path) as f:
        f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[TextIO]:
    """A text file that appears at `path` only once it is complete (temporary file + `os.replace`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- summaries ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Failure:
    """A clip that could not be done, and why."""

    file: str
    error: str


@dataclass(frozen=True)
class RankFiles:
    """Where a rank writes its summary, its failures and (with several ranks) its done marker."""

    summary: Path
    failures: Path
    done: Path | None

    @classmethod
    def of(cls, out_dir: str | Path, rank: int, world_size: int) -> RankFiles:
        out = Path(out_dir)
        if world_size == 1:
            return cls(out / SUMMARY_FILE, out / FAILURES_FILE, None)
        tag = f"rank{rank}-of-{world_size}"
        return cls(out / f"summary-{tag}.csv", out / f"failures-{tag}.json", out / f"done-{tag}.json")


def summary_rows(result: DetectionResult) -> Iterator[tuple[str, str, str, float, float, float]]:
    """The clip's detections as summary rows (the order and rounding of its CSV), with its file first."""
    for task, d in result.rows():
        dd = d.to_dict()
        yield (result.file, task, dd["label"], dd["start"], dd["end"], dd["score"])


def write_summary(path: str | Path, results: Iterable[DetectionResult]) -> int:
    """The summary CSV of `results` (given in file order: rows are streamed), atomically; returns the number
    of rows."""
    return _write_rows(path, (row for r in results for row in summary_rows(r)))


def _write_rows(path: str | Path, rows: Iterable[Sequence[Any]]) -> int:
    n = 0
    with atomic_writer(path) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SUMMARY_COLUMNS)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def write_failures(path: str | Path, failures: Iterable[Failure]) -> None:
    write_json(path, [{"file": f.file, "error": f.error} for f in sorted(failures)])


def read_failures(path: str | Path) -> list[Failure]:
    return [Failure(str(f["file"]), str(f["error"])) for f in json.loads(Path(path).read_text(encoding="utf-8"))]


def write_done(files: RankFiles, settings: str, clips: int, failed: int) -> None:
    """The marker that a rank finished (written after its summary and failures)."""
    if files.done is not None:
        write_json(files.done, {"settings": settings, "clips": clips, "failed": failed})


def merge_rank_summaries(out_dir: str | Path, world_size: int, settings: str | None = None) -> bool:
    """Merge the ranks' summaries and failures into ``summary.csv`` and ``failures.json`` if every rank of
    `world_size` is done (with `settings`, or any one settings digest shared by all when None); returns
    whether it merged. Safe to run from several ranks at once: the outputs are written atomically and are the
    same whoever writes them."""
    ranks = [RankFiles.of(out_dir, r, world_size) for r in range(world_size)]
    markers = []
    for files in ranks:
        assert files.done is not None
        try:
            markers.append(json.loads(files.done.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return False
    digests = {m.get("settings") for m in markers}
    if len(digests) != 1 or (settings is not None and digests != {settings}):
        return False
    out = Path(out_dir)
    _write_rows(out / SUMMARY_FILE, heapq.merge(*(_csv_rows(f.summary) for f in ranks), key=lambda row: row[0]))
    write_failures(out / FAILURES_FILE, [f for files in ranks for f in read_failures(files.failures)])
    return True


def find_world_sizes(out_dir: str | Path) -> list[int]:
    """The world sizes of the rank summaries in `out_dir` (for ``--merge`` without a world size)."""
    sizes = set()
    for p in Path(out_dir).glob("done-rank*-of-*.json"):
        try:
            sizes.add(int(p.stem.rpartition("-of-")[2]))
        except ValueError:
            continue
    return sorted(sizes)


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        yield from reader
