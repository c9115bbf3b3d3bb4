"""Models for the studio: parse what the user typed, load it once, keep a few loaded.

A model is named by a folder or a Hub repo id, optionally pinned with ``@revision``
(``owner/name@v1``). `ModelRegistry.get` finds its folder with `uniav.hub.resolve_model_dir` (a Hub model is
downloaded there, with the token the studio read from ``HF_TOKEN`` at start-up, so private models load;
huggingface_hub's cache and ``HF_HUB_OFFLINE`` apply), loads it with `Detector.from_pretrained` and keeps the
last few loaded detectors, shared by all sessions: a detector holds no per-user state besides its
content-keyed clip cache.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uniav.config import TaskConfig
from uniav.defaults import BUNDLED_MODEL_NAME, bundled_model_dir, is_bundled
from uniav.encoders import FeatureCache
from uniav.hub import CARD_FILE, resolve_model_dir
from uniav.knowledge import ModelKnowledge
from uniav.pipeline.detector import Detector
from uniav.progress import ProgressFn, no_progress
from uniav.studio.errors import StudioError, describe_error

# a model folder -> its detector (features cached in the given cache)
Loader = Callable[[Path, "FeatureCache | None"], Detector]
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)


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
        """How the page names the model: the bundled one by its name, a folder given by its absolute path by
        the folder's name (the page never shows the server's folders), others as the user typed them."""
        path = Path(self.name).expanduser()
        if is_bundled(self.name):
            name = f"{BUNDLED_MODEL_NAME} (bundled)"
        else:
            name = path.name if path.is_absolute() else self.name
        return f"{name}@{self.revision}" if self.revision else name


def default_loader(folder: Path, cache: FeatureCache | None) -> Detector:
    return Detector.from_pretrained(folder, feature_cache=cache)


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model, its folder (a Hub model's local snapshot) and what the page needs to know about it."""

    ref: ModelRef
    detector: Detector
    load_seconds: float
    folder: Path | None = None

    @property
    def knowledge(self) -> ModelKnowledge:
        """What the model knows: per task its training classes and data, and its encoders."""
        return self.detector.knowledge

    @property
    def card(self) -> str | None:
        """The model card (the folder's README.md, without its YAML front matter); None when there is none."""
        path = self.folder / CARD_FILE if self.folder is not None else None
        if path is None or not path.is_file():
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        return _FRONT_MATTER.sub("", text, count=1).strip() or None

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
            f"✅ Model **{self.ref.label}** · encoders {cfg.encoder.label} · {params / 1e6:.1f} M parameters · "
            f"tasks: {tasks}"
        )


class ModelRegistry:
    """Loads models on demand and keeps the `max_models` most recently used (thread-safe); `token` is the
    Hugging Face token for private Hub models (None: huggingface_hub's own lookup)."""

    def __init__(
        self,
        feature_cache: FeatureCache | None = None,
        max_models: int = 3,
        loader: Loader = default_loader,
        token: str | None = None,
    ) -> None:
        if max_models < 1:
            raise ValueError("max_models must be at least 1")
        self.feature_cache = feature_cache
        self.max_models = max_models
        self.loader = loader
        self._token = token
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
        progress = progress or no_progress
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
                folder = resolve_model_dir(ref.name, revision=ref.revision, token=self._token)
                detector = self.loader(folder, self.feature_cache)
            except Exception as exc:  # noqa: BLE001 - every load failure becomes a message in the page
                raise self._load_error(ref, exc) from exc
            finally:
                with self._lock:
                    self._key_locks.pop(ref, None)
            loaded = LoadedModel(ref, detector, time.perf_counter() - start, folder)
            progress(1.0, "model loaded")
            with self._lock:
                self._loaded[ref] = loaded
                while len(self._loaded) > self.max_models:
                    self._loaded.popitem(last=False)
        return loaded

    @staticmethod
    def _load_error(ref: ModelRef, exc: Exception) -> StudioError:
        title = f"Could not load the model {ref.label}"
        if is_bundled(ref.name) and not bundled_model_dir().is_dir():
            return StudioError(
                title,
                f"the bundled model {BUNDLED_MODEL_NAME} is not installed with the package; "
                "type a model folder or Hub repo id, or set UNIAV_MODEL",
            )
        err = describe_error(exc, "load the model")
        return StudioError(title, err.detail)
