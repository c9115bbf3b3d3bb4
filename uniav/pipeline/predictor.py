"""What ``uniav predict`` is asked (`PredictRequest`) and the clip predictor that answers it (`ClipPredictor`).

`ClipPredictor` is the one way the command line turns a clip into a `DetectionResult`, for one file or a
collection. Per clip:

1. the result cache (`uniav.pipeline.result_cache`): when every task's detections for this clip, model,
   encoder and vocabulary are stored, they are filtered by threshold and top-k and nothing else runs:
   neither the decoder nor PyTorch is loaded (a cached rerun costs start-up and a file hash);
2. otherwise the clip's features (decoded and encoded here by `encode`, or by a worker process of
   `uniav.pipeline.encode_pool`; both go through the feature cache) are run through the `Detector`
   (`analyze_features`, `detect_all`): the one inference and post-processing path. Every task's
   detections down to the decoding floor are stored, then filtered.

The `Detector` (and with it PyTorch and the model's weights) is built on first need only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniav import __version__
from uniav.config import EncoderSpec, ModelConfig
from uniav.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_K
from uniav.knowledge import ModelKnowledge
from uniav.pipeline.result_cache import CachedTask, ResultCache, ResultKey, model_fingerprint
from uniav.pipeline.results import DetectionResult
from uniav.progress import ProgressFn, no_progress
from uniav.vocabularies import Vocabulary

if TYPE_CHECKING:
    from uniav.encoders import CachedEncoder, ClipFeatures
    from uniav.media.grid import SnippetGrid
    from uniav.pipeline.detector import Detector

CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class ModelRef:
    """A model as the user named it (`name`, recorded in outputs), the folder it lives in, its configuration
    and the fingerprint of its files. A local folder is resolved without loading PyTorch."""

    name: str
    folder: Path
    config: ModelConfig
    fingerprint: str

    @classmethod
    def resolve(cls, name: str | Path, revision: str | None = None) -> ModelRef:
        """A model folder, or a Hub repo id (downloaded or found in the Hub cache by `uniav.hub`)."""
        path = Path(name).expanduser()
        if path.is_dir():
            folder = path
        else:
            from uniav.hub import resolve_model_dir

            folder = resolve_model_dir(name, revision=revision)
        cfg_path = folder / CONFIG_FILE
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{folder}: no {CONFIG_FILE}; not a UniAV model folder")
        try:
            config = ModelConfig.load(cfg_path)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{cfg_path}: invalid UniAV configuration: {exc}") from exc
        return cls(str(name), folder, config, model_fingerprint(folder))


@dataclass(frozen=True)
class PredictRequest:
    """Everything that decides a clip's output: the model, its encoder (the model's, with the command line's
    options), one vocabulary per task to run (in order), threshold and top-k, the device; and where features
    are cached (None: the default feature cache)."""

    model: ModelRef
    encoder: EncoderSpec
    vocabularies: tuple[Vocabulary, ...]
    threshold: float = DEFAULT_THRESHOLD
    top_k: int | None = DEFAULT_TOP_K
    device: str = "cpu"
    feature_cache: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.vocabularies:
            raise ValueError("a prediction needs at least one task")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError("--top-k must be at least 1")

    @classmethod
    def build(
        cls,
        model: ModelRef,
        tasks: Sequence[str] | None = None,
        vocabularies: Iterable[Vocabulary] = (),
        encoder_options: Mapping[str, object] | None = None,
        **settings: Any,
    ) -> PredictRequest:
        """The request for `tasks` (any case; default every task of the model), each with its vocabulary from
        `vocabularies` or else its training vocabulary."""
        from uniav.encoders.factory import with_options

        cfg = model.config
        names = list(dict.fromkeys(cfg.task(t).name for t in (tasks or cfg.task_names)))
        given = {cfg.task(v.task).name: v for v in vocabularies}
        unused = sorted(set(given) - set(names))
        if unused:
            raise ValueError(f"a vocabulary is given for {', '.join(unused)}, which is not among the tasks to run")
        vocabs = tuple(
            Vocabulary(n, given[n].labels, given[n].template) if n in given else cfg.task(n).vocabulary for n in names
        )
        spec = with_options(cfg.encoder, dict(encoder_options)) if encoder_options else cfg.encoder
        return cls(model, spec, vocabs, **settings)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(v.task for v in self.vocabularies)

    def grids(self) -> dict[str, SnippetGrid]:
        """Per task, the snippet grid its features live on."""
        return {t: self.model.config.task(t).grid for t in self.tasks}


class ClipPredictor:
    """Detections of clips for one `PredictRequest`, from the result cache or through the `Detector`.

    `results`: the result cache (None: none, every clip runs the network). The encoder is built here (its
    weights load on first use) and wrapped in the feature cache.
    """

    def __init__(self, request: PredictRequest, results: ResultCache | None = None) -> None:
        from uniav.encoders import FeatureCache, build_encoder

        self.request = request
        self.results = results
        self.encoder: CachedEncoder = build_encoder(request.encoder, cache=FeatureCache(request.feature_cache))
        self.knowledge = ModelKnowledge.of(request.model.config)
        self._detector: Detector | None = None

    @property
    def detector(self) -> Detector:
        """The `Detector` of the model, loaded on first use (this is what imports PyTorch)."""
        return self.load_model()

    def load_model(self) -> Detector:
        """Load the model into a `Detector` unless done already (this is what imports PyTorch)."""
        if self._detector is None:
            from uniav.model.uniav import UniAV
            from uniav.pipeline.detector import Detector

            model = UniAV.from_pretrained(self.request.model.folder, device=self.request.device)
            model.source = self.request.model.name
            self._detector = Detector(model, self.encoder)
        return self._detector

    @property
    def model_loaded(self) -> bool:
        return self._detector is not None

    def settings_digest(self) -> str:
        """A digest of everything a clip's output depends on apart from the clip (model files, encoder cache
        key, device type, tasks, vocabularies, threshold, top-k and the uniav version): outputs written under
        another digest are out of date."""
        r = self.request
        doc = {
            "uniav": __version__,
            "model": r.model.fingerprint,
            "encoder": self.encoder.cache_key,
            "device": str(r.device).split(":")[0].lower(),
            "vocabularies": [[v.task, list(v.labels), v.template] for v in r.vocabularies],
            "threshold": r.threshold,
            "top_k": r.top_k,
        }
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def content_sha(self, path: str | Path) -> str | None:
        """SHA-256 of a media file (remembered per path, size and mtime); None when results cannot be keyed by
        content (a missing file, or an encoder whose input is a video id rather than a file)."""
        if not self.encoder.cacheable or not Path(path).is_file():
            return None
        return self.encoder.content_sha(path)

    def _key(self, sha: str) -> ResultKey:
        r = self.request
        return ResultKey.of(sha, r.model.fingerprint, self.encoder.cache_key, r.device)

    # ---- the two ways to a result -------------------------------------------------------------------------
    def cached(self, path: str | Path, sha: str | None) -> DetectionResult | None:
        """The clip's result from the result cache when every task is there, else None."""
        if self.results is None or sha is None:
            return None
        key = self._key(sha)
        entries = {}
        for vocab in self.request.vocabularies:
            entry = self.results.load(key, vocab)
            if entry is None:
                return None
            entries[vocab.task] = entry
        return self._assemble(path, entries)

    def encode(self, path: str | Path, progress: ProgressFn | None = None) -> dict[SnippetGrid, ClipFeatures]:
        """The clip's features on every task's grid, decoded once (through the feature cache)."""
        report = progress or no_progress
        return self.encoder.encode_file(
            path, list(self.request.grids().values()), progress=lambda f: report(f, "decoding and encoding")
        )

    def from_features(
        self,
        path: str | Path,
        sha: str | None,
        features: Mapping[SnippetGrid, ClipFeatures],
        progress: ProgressFn | None = None,
    ) -> DetectionResult:
        """The clip's result from its features (`encode`'s output): the network and post-processing of the
        `Detector`; every task's full detections go to the result cache."""
        grids = self.request.grids()
        per_task = {t: features[g] for t, g in grids.items()}
        detector = self.detector
        analysis = detector.analyze_features(Path(path).name, per_task, progress)
        entries = {
            v.task: CachedTask(detector.detect_all(analysis, v), analysis.duration, per_task[v.task].notes)
            for v in self.request.vocabularies
        }
        if self.results is not None and sha is not None:
            key = self._key(sha)
            for entry in entries.values():
                self.results.store(key, entry)
        return self._assemble(path, entries)

    def predict(self, path: str | Path, progress: ProgressFn | None = None) -> DetectionResult:
        """One clip the whole way: the result cache, else decoding, encoding and the network."""
        report = progress or no_progress
        sha = self.content_sha(path)
        result = self.cached(path, sha)
        if result is not None:
            report(1.0, "cached")
            return result
        feats = self.encode(path, lambda f, what: report(0.8 * f, what))
        result = self.from_features(path, sha, feats, lambda f, what: report(0.8 + 0.2 * f, what))
        report(1.0, "done")
        return result

    def _assemble(self, path: str | Path, entries: Mapping[str, CachedTask]) -> DetectionResult:
        r = self.request
        first = entries[r.tasks[0]]
        return DetectionResult(
            file=str(path),
            duration=first.duration,
            tasks={t: entries[t].result.filtered(r.threshold, r.top_k) for t in r.tasks},
            notes=tuple(dict.fromkeys(n for t in r.tasks for n in entries[t].notes)),
            model=r.model.name,
            knowledge=self.knowledge.to_dict(),
        )
