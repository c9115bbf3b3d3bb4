"""On-disk cache of a clip's detections for one vocabulary, so that a rerun needs neither PyTorch nor the model.

A cached ``uniav predict`` rerun used to cost as much as the first run minus decoding: importing PyTorch
alone takes longer than everything else together. The feature cache saves the decoding; this cache saves
the network. An entry holds what `Detector.detect_all` gives for one task on one clip (every detection down
to the decoding floor, or why the task was skipped) plus the clip's duration and notes, so any threshold or
top-k is answered by `TaskResult.filtered`, exactly as the live path does.

An entry is keyed by everything its numbers depend on (`ResultKey`): the clip's content (SHA-256), the
model's files (`model_fingerprint`), the encoder's cache key (kinds, options, features versions), the device
type, the source of the inference code (`code_digest`: model, ops, pipeline, encoders), the task and the
vocabulary (labels and template). Layout: ``{root}/{digest[:2]}/{digest}.json``; the root is
``$UNIAV_CACHE/results`` when ``UNIAV_CACHE`` is set, else ``~/.cache/uniav/results``. Writes are atomic
(temporary file + rename); an entry that cannot be read or does not match its key is a miss.

Importing this module loads neither PyTorch nor NumPy.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uniav.pipeline.results import Detection, TaskResult
from uniav.vocabularies import Vocabulary

log = logging.getLogger(__name__)
RESULTS_FORMAT = 1
# the parts of the package whose code decides a clip's detections once its features are known
CODE_PATHS = ("model", "ops", "pipeline", "encoders", "config.py", "vocabularies.py", "hub.py", "data/transforms.py")
MODEL_FILES = ("config.json", "*.safetensors")


def default_results_root() -> Path:
    """``$UNIAV_CACHE/results`` if the variable is set, else ``~/.cache/uniav/results``."""
    env = os.environ.get("UNIAV_CACHE")
    return Path(env) / "results" if env else Path.home() / ".cache" / "uniav" / "results"


@functools.cache
def code_digest() -> str:
    """SHA-256 (16 hex digits) of the source of the inference code (`CODE_PATHS`), once per process: results
    cached by another version of that code are never reused, whatever its version number says."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for item in CODE_PATHS:
        path = package / item
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(f.relative_to(package).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def model_fingerprint(folder: str | Path) -> str:
    """SHA-256 of a model folder's configuration and weights (``config.json`` and every ``*.safetensors``)."""
    root = Path(folder)
    files = sorted({p for pattern in MODEL_FILES for p in root.glob(pattern) if p.is_file()})
    if not any(p.name == "config.json" for p in files):
        raise FileNotFoundError(f"{root}: no config.json; not a UniAV model folder")
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        with open(f, "rb") as stream:
            while chunk := stream.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ResultKey:
    """What a clip's detections depend on, apart from the task and its vocabulary."""

    clip_sha: str
    model: str
    encoder: str
    device: str
    code: str

    @classmethod
    def of(cls, clip_sha: str, model: str, encoder: str, device: str) -> ResultKey:
        """A key for this clip, model fingerprint and encoder cache key; `device` is reduced to its type
        (``cuda:1`` -> ``cuda``) and the code is this process's `code_digest`."""
        return cls(clip_sha, model, encoder, str(device).split(":")[0].lower(), code_digest())

    def fields(self, vocab: Vocabulary) -> dict[str, Any]:
        return {
            "format": RESULTS_FORMAT,
            "clip_sha": self.clip_sha,
            "model": self.model,
            "encoder": self.encoder,
            "device": self.device,
            "code": self.code,
            "task": vocab.task,
            "labels": list(vocab.labels),
            "template": vocab.template,
        }

    def digest(self, vocab: Vocabulary) -> str:
        blob = json.dumps(self.fields(vocab), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class CachedTask:
    """A task's detections on a clip down to the decoding floor (or why it was skipped), with the clip's
    duration and the notes of the task's features."""

    result: TaskResult
    duration: float
    notes: tuple[str, ...]


class ResultCache:
    """Detections of (clip, model, encoder, device, code, vocabulary) on disk."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_results_root()

    def entry_path(self, key: ResultKey, vocab: Vocabulary) -> Path:
        digest = key.digest(vocab)
        return self.root / digest[:2] / f"{digest}.json"

    def load(self, key: ResultKey, vocab: Vocabulary) -> CachedTask | None:
        """The entry, or None when absent or unreadable (a bad entry is logged and ignored)."""
        path = self.entry_path(key, vocab)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable result cache entry %s (%s)", path, exc)
            return None
        try:
            if doc["key"] != key.fields(vocab):
                raise ValueError("entry written for another key")
            dets = tuple(Detection(str(lab), float(s), float(e), float(p)) for lab, s, e, p in doc["detections"])
            skipped = doc["skipped"]
            result = TaskResult(vocab.task, dets, None if skipped is None else str(skipped), vocabulary=vocab)
            return CachedTask(result, float(doc["duration"]), tuple(str(n) for n in doc["notes"]))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring result cache entry %s (%s: %s)", path, type(exc).__name__, exc)
            return None

    def store(self, key: ResultKey, entry: CachedTask) -> Path | None:
        """Write an entry atomically; returns its path (None when the cache folder cannot be written: the
        result is not lost, only not cached)."""
        from uniav.data.features import atomic_write_bytes

        vocab = entry.result.vocabulary
        if vocab is None:
            raise ValueError("a cached task result needs the vocabulary it was scored with")
        doc = {
            "key": key.fields(vocab),
            "duration": entry.duration,
            "notes": list(entry.notes),
            "skipped": entry.result.skipped,
            "detections": [[d.label, d.start, d.end, d.score] for d in entry.result.detections],
        }
        path = self.entry_path(key, vocab)
        try:
            atomic_write_bytes(path, json.dumps(doc, ensure_ascii=False).encode("utf-8"))
        except OSError as exc:
            log.warning("could not write the result cache under %s: %s", self.root, exc)
            return None
        return path
