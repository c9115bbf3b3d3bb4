"""From a media file to per-task detections: `Detector` = a UniAV model + the encoders it was trained with.

Work is split where the inputs change:

1. `Detector.analyze` decodes and encodes the clip (features cached on disk by the encoder) and runs the
   vocabulary-independent part of the network (`analyze_sequences`); the result is kept in memory.
2. `Detector.detect_all` embeds a vocabulary's prompts (`PromptEmbedder`) and scores the cached analysis
   (`score_analyses`: the head's cosine, decoding, Soft-NMS, window merging). A new vocabulary or template
   re-runs only this; `Detector.detect` then filters by threshold and top-k, which is all they do.

``uniav evaluate`` runs the same two steps on stored features (`uniav.evaluation.runner`), so the mAP it
reports is the mAP of what `Detector` outputs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from uniav.config import TaskConfig
from uniav.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_K
from uniav.encoders import ClipFeatures, Encoder, FeatureCache, build_encoder
from uniav.encoders.factory import with_options
from uniav.knowledge import ModelKnowledge
from uniav.model.uniav import UniAV
from uniav.pipeline.analysis import TaskAnalysis, analyze_sequences, prepare_sequence, score_analyses
from uniav.pipeline.prompts import PromptEmbedder
from uniav.pipeline.results import Detection, DetectionResult, TaskResult
from uniav.progress import ProgressFn, no_progress, scaled
from uniav.vocabularies import Vocabulary


@dataclass(frozen=True, eq=False)
class ClipAnalysis:
    """A clip analysed for some tasks: its name (never a server path), duration, tracks, notes for the user
    and per task the cached network outputs (or why the task cannot run)."""

    name: str
    duration: float
    has_video: bool
    has_audio: bool
    notes: tuple[str, ...]
    tasks: Mapping[str, TaskAnalysis]


def skip_reason(task: TaskConfig, feats: ClipFeatures) -> str | None:
    """Why `task` cannot run on a clip with these tracks (None: it can)."""
    if task.needs_video and not feats.has_video:
        return f"{task.name} needs the picture and this file has no video stream (audio-only input)"
    if task.needs_audio and not feats.has_audio:
        return f"{task.name} needs sound and this file has no audio track"
    return None


def to_detections(vocab: Vocabulary, segments: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> TaskResult:
    """A `TaskResult` of one clip's scored segments (seconds), sorted by start time."""
    dets = [
        Detection(vocab.labels[int(k)], float(s), float(e), float(p))
        for (s, e), p, k in zip(segments, scores, labels, strict=True)
    ]
    return TaskResult(vocab.task, tuple(sorted(dets, key=lambda d: (d.start, -d.score))), vocabulary=vocab)


class Detector:
    """A model and its encoders, with caches so that repeated requests on a clip stay cheap.

    >>> det = Detector.from_pretrained("checkpoints/uniav-sounds")
    >>> result = det.run("clip.mp4", vocabularies=[det.vocabulary("SED", ["dog bark", "car horn"])])
    """

    def __init__(
        self,
        model: UniAV,
        encoder: Encoder | None = None,
        *,
        feature_cache: FeatureCache | None = None,
        batch_size: int = 8,
        max_cached_clips: int = 16,
    ) -> None:
        self.model = model.eval()
        self.config = model.config
        cache = feature_cache if feature_cache is not None else FeatureCache()
        self.encoder = encoder if encoder is not None else build_encoder(model.config.encoder, cache=cache)
        cfg = self.config
        dims = (self.encoder.visual_dim, self.encoder.audio_dim, self.encoder.text_dim)
        if dims != (cfg.visual_dim, cfg.audio_dim, cfg.text_dim):
            raise ValueError(
                f"the encoders ({self.encoder.spec.label}) give features of widths (visual, audio, text) {dims} but "
                f"the model expects {(cfg.visual_dim, cfg.audio_dim, cfg.text_dim)}: use the encoders the model was "
                "trained with"
            )
        self.batch_size = batch_size
        self.max_cached = max_cached_clips
        self.prompts = PromptEmbedder(model, self.encoder.encode_text)
        self._analyses: OrderedDict[tuple[str, str], ClipAnalysis] = OrderedDict()
        self._lock = threading.RLock()

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        revision: str | None = None,
        *,
        feature_cache: FeatureCache | None = None,
        device: str = "cpu",
        encoder_options: Mapping[str, object] | None = None,
        **kwargs,
    ) -> Detector:
        """A model folder or Hub id with its own encoders; `encoder_options` add to (or replace) the options
        recorded with the model (unprefixed: every part that takes the option; ``visual.x`` / ``audio.x`` /
        ``text.x``: one part), e.g. ``feature_dir`` for precomputed ONE-PEACE features."""
        model = UniAV.from_pretrained(name_or_path, revision=revision, device=device)
        encoder = None
        if encoder_options:
            spec = with_options(model.config.encoder, dict(encoder_options))
            encoder = build_encoder(spec, cache=feature_cache if feature_cache is not None else FeatureCache())
        return cls(model, encoder, feature_cache=feature_cache, **kwargs)

    @property
    def knowledge(self) -> ModelKnowledge:
        """What the model knows (its classes, which tasks were trained on synthetic data, its encoders)."""
        return ModelKnowledge.of(self.config)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def vocabulary(self, task: str, labels: Iterable[str] | None = None, template: str | None = None) -> Vocabulary:
        """A vocabulary of `task` (any case): its training labels and template unless given."""
        t = self.config.task(task)
        return Vocabulary(
            t.name,
            tuple(labels) if labels is not None else t.labels,
            t.prompt_template if template is None else template,
        )

    def _canonical(self, vocab: Vocabulary) -> Vocabulary:
        name = self.config.task(vocab.task).name
        return vocab if name == vocab.task else Vocabulary(name, vocab.labels, vocab.template)

    # ---- step 1: clip -> cached vocabulary-independent outputs ----------------------------------------------
    def analyze(
        self, path: str | Path, tasks: Sequence[str] | None = None, progress: ProgressFn | None = None
    ) -> ClipAnalysis:
        """Decode, encode and run everything that does not depend on the vocabulary (cached)."""
        progress = progress or no_progress
        task_cfgs = [self.config.task(t) for t in (tasks or self.config.task_names)]
        key = self._clip_key(path)
        with self._lock:
            cached = self._analyses.get(key)
            if cached is not None and all(t.name in cached.tasks for t in task_cfgs):
                self._analyses.move_to_end(key)
                progress(1.0, "cached")
                return cached
        grids = {t.name: t.grid for t in task_cfgs}
        progress(0.0, "decoding and encoding")
        feats = self.encoder.encode_file(
            path, list(grids.values()), progress=lambda f: progress(0.8 * f, "decoding and encoding")
        )
        analysis = self.analyze_features(
            Path(path).name, {t.name: feats[grids[t.name]] for t in task_cfgs}, scaled(progress, 0.8, 0.2)
        )
        if cached is not None:  # keep the tasks analysed before
            analysis = replace(analysis, tasks={**cached.tasks, **analysis.tasks})
        progress(1.0, "done")
        with self._lock:
            self._analyses[key] = analysis
            while len(self._analyses) > self.max_cached:
                self._analyses.popitem(last=False)
        return analysis

    def analyze_features(
        self, name: str, features: Mapping[str, ClipFeatures], progress: ProgressFn | None = None
    ) -> ClipAnalysis:
        """The analysis of a clip whose features per task (on the task's grid) are at hand."""
        progress = progress or no_progress
        if not features:
            raise ValueError("analyze_features needs the features of at least one task")
        first = next(iter(features.values()))
        tasks: dict[str, TaskAnalysis] = {}
        for i, (task_name, feats) in enumerate(features.items()):
            task = self.config.task(task_name)
            progress(i / len(features), f"running the model ({task.name})")
            why = skip_reason(task, feats)
            if why is not None:
                tasks[task.name] = TaskAnalysis(task.name, skipped=why)
                continue
            seq = prepare_sequence(task, feats.visual, feats.audio, feats.duration)
            (tasks[task.name],) = analyze_sequences(self.model, task, [seq], self.batch_size)
        notes = tuple(dict.fromkeys(n for f in features.values() for n in f.notes))
        return ClipAnalysis(name, first.duration, first.has_video, first.has_audio, notes, tasks)

    def _clip_key(self, path: str | Path) -> tuple[str, str]:
        sha = getattr(self.encoder, "content_sha", None)
        if sha is not None and Path(path).is_file():
            return (sha(path), self.encoder.cache_key)
        return (str(path), self.encoder.cache_key)

    # ---- step 2: vocabulary -> detections --------------------------------------------------------------------
    def detect_all(self, analysis: ClipAnalysis, vocabulary: Vocabulary) -> TaskResult:
        """Every detection of the vocabulary's task on an analysed clip, down to the decoding floor."""
        vocab = self._canonical(vocabulary)
        task = self.config.task(vocab.task)
        ta = analysis.tasks.get(task.name)
        if ta is None:
            raise KeyError(f"{task.name} was not analysed on {analysis.name}; call analyze() with this task")
        if not ta.ran:
            return TaskResult(task.name, skipped=ta.skipped, vocabulary=vocab)
        dets = score_analyses(self.model, task, [ta], self.prompts.text(vocab), self.prompts.class_map(vocab))
        return to_detections(vocab, *dets.of(0))

    def detect(
        self,
        analysis: ClipAnalysis,
        vocabulary: Vocabulary,
        threshold: float = DEFAULT_THRESHOLD,
        top_k: int | None = DEFAULT_TOP_K,
    ) -> TaskResult:
        """Detections of an analysed clip for a vocabulary, at least `threshold`, at most `top_k` (the best)."""
        return self.detect_all(analysis, vocabulary).filtered(threshold, top_k)

    # ---- the whole way -----------------------------------------------------------------------------------------
    def run(
        self,
        path: str | Path,
        tasks: Sequence[str] | None = None,
        vocabularies: Iterable[Vocabulary] = (),
        threshold: float = DEFAULT_THRESHOLD,
        top_k: int | None = DEFAULT_TOP_K,
        progress: ProgressFn | None = None,
    ) -> DetectionResult:
        """Detections for `tasks` (default: every task of the model) with the given vocabularies (default:
        each task's training vocabulary)."""
        given = {v.task: v for v in map(self._canonical, vocabularies)}
        names = [self.config.task(t).name for t in (tasks or self.config.task_names)]
        vocabs = {t: given.get(t) or self.vocabulary(t) for t in names}
        analysis = self.analyze(path, names, progress)
        results = {t: self.detect(analysis, vocabs[t], threshold, top_k) for t in names}
        return DetectionResult(
            file=str(path),
            duration=analysis.duration,
            tasks=results,
            notes=analysis.notes,
            model=self.model.source,
            knowledge=self.knowledge.to_dict(),
        )
