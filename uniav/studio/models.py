"""Models for the studio: parse what the user typed, load it once, keep a few loaded.

A model is named by a folder or a Hub repo id, optionally pinned with ``@revision``
(``owner/name@v1``). `ModelRegistry.get` loads it through `Detector.from_pretrained` (the download
goes through `uniav.hub.resolve_model_dir`, so huggingface_hub's cache and ``HF_HUB_OFFLINE`` apply)
and keeps the last few loaded detectors, shared by all sessions: a detector holds no per-user state
besides its content-keyed clip cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uniav.config import TaskConfig
from uniav.defaults import REPO_ROOT, bundled_model_dir
from uniav.encoders import FeatureCache
from uniav.pipeline.detector import Detector
from uniav.studio.errors import StudioError, describe_error

ProgressFn = Callable[[float, str], None]
Loader = Callable[[str, "str | None", "FeatureCache | None"], Detector]


def _noop(_: float, __: str) -> None:
    pass


@dataclass(frozen=True)
class ModelRef:
    """A model as the user named it: a folder or a Hub repo id, and an optional Hub revision."""

    name: str
    revision: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> ModelRef:
        """``"owner/name@rev"`` -> (``owner/name``, ``rev``); an existing folder is taken as is."""
        text = (text or "").strip()
        if not text:
            raise StudioError("No model given", "choose the bundled model or type a model folder or Hub repo id")
        if "@" in text and not Path(text).expanduser().exists():
            name, _, rev = text.rpartition("@")
            if name and rev:
                return cls(name.strip(), rev.strip())
        return cls(text)

    @property
    def label(self) -> str:
        """How the page names the model: project folders relative to the project, others as given."""
        path = Path(self.name).expanduser()
        name = self.name
        if path.is_absolute():
            try:
                name = str(path.resolve().relative_to(REPO_ROOT))
            except ValueError:
                name = str(path)
        return f"{name}@{self.revision}" if self.revision else name


def default_loader(name: str, revision: str | None, cache: FeatureCache | None) -> Detector:
    return Detector.from_pretrained(name, revision=revision, feature_cache=cache)


@dataclass
class LoadedModel:
    """A loaded model and what the page needs to know about it."""

    ref: ModelRef
    detector: Detector
    load_seconds: float

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.detector.config.task_names

    def task(self, name: str) -> TaskConfig:
        return self.detector.config.task(name)

    def summary(self) -> str:
        """One Markdown line: name, encoder, size, tasks and their vocabulary sizes."""
        cfg = self.detector.config
        params = sum(p.numel() for p in self.detector.model.parameters())
        tasks = ", ".join(f"{t.name} ({t.num_classes} labels)" for t in cfg.tasks)
        return (
            f"✅ Model **{self.ref.label}** · `{cfg.encoder.kind}` encoder · {params / 1e6:.1f} M parameters · "
            f"tasks: {tasks}"
        )


class ModelRegistry:
    """Loads models on demand and keeps the `max_models` most recently used (thread-safe)."""

    def __init__(
        self, feature_cache: FeatureCache | None = None, max_models: int = 3, loader: Loader = default_loader
    ) -> None:
        if max_models < 1:
            raise ValueError("max_models must be at least 1")
        self.feature_cache = feature_cache
        self.max_models = max_models
        self.loader = loader
        self._loaded: OrderedDict[ModelRef, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[ModelRef, threading.Lock] = {}

    def peek(self, text: str | None) -> LoadedModel | None:
        """The model if it is already loaded (nothing is loaded)."""
        try:
            ref = ModelRef.parse(text)
        except StudioError:
            return None
        with self._lock:
            return self._loaded.get(ref)

    def get(self, text: str | None, progress: ProgressFn | None = None) -> LoadedModel:
        """The model named by `text`, loaded now if needed; failures raise `StudioError`."""
        progress = progress or _noop
        ref = ModelRef.parse(text)
        with self._lock:
            if ref in self._loaded:
                self._loaded.move_to_end(ref)
                return self._loaded[ref]
            key_lock = self._key_locks.setdefault(ref, threading.Lock())
        with key_lock:  # two sessions asking for the same model wait for one load
            with self._lock:
                if ref in self._loaded:
                    return self._loaded[ref]
            progress(0.0, f"loading the model {ref.label}")
            start = time.perf_counter()
            try:
                detector = self.loader(ref.name, ref.revision, self.feature_cache)
            except Exception as exc:  # noqa: BLE001 - every load failure becomes a message in the page
                raise self._load_error(ref, exc) from exc
            finally:
                with self._lock:
                    self._key_locks.pop(ref, None)
            loaded = LoadedModel(ref, detector, time.perf_counter() - start)
            progress(1.0, "model loaded")
            with self._lock:
                self._loaded[ref] = loaded
                while len(self._loaded) > self.max_models:
                    self._loaded.popitem(last=False)
        return loaded

    @staticmethod
    def _load_error(ref: ModelRef, exc: Exception) -> StudioError:
        title = f"Could not load the model {ref.label}"
        bundled = Path(ref.name).expanduser().resolve() == bundled_model_dir().resolve()
        if bundled and not bundled_model_dir().is_dir():
            return StudioError(
                title,
                "the bundled model is not installed (checkpoints/uniav-synth is missing); "
                "type a model folder or Hub repo id, or set UNIAV_MODEL",
            )
        err = describe_error(exc, "load the model")
        return StudioError(title, err.detail)
