"""From a media file to per-task detections: `Detector` = a UniAV model + the encoder it was trained with.

Work is split where the inputs change:

1. `Detector.analyze` decodes and encodes the clip (features cached on disk by the encoder) and runs
   the backbone, the classification tower and the regression heads: everything that depends on the
   clip and the task but not on the vocabulary. The result is kept in memory.
2. `Detector.detect` embeds the prompts of a vocabulary, takes the cosine with the cached visual
   embeddings, decodes and merges windows. A new vocabulary, template or threshold re-runs only this.

Long inputs follow the task's training regime (DESIGN 8): TAL resamples the whole clip to
``max_seq_len`` steps; AVEL and SED slide windows of ``max_seq_len`` steps (see `windows`).
Open vocabulary (DESIGN 7): a label outside the training vocabulary of a class-aware task borrows the
regression offsets of its nearest training label (cosine of the projected prompt embeddings).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from uniav.config import ClassifierKind, TaskConfig
from uniav.data.transforms import resize_to_length, stretched_timing
from uniav.encoders import ClipFeatures, Encoder, FeatureCache, UnknownPromptError, build_encoder
from uniav.media.grid import SnippetGrid
from uniav.model.uniav import UniAV
from uniav.ops.decode import GridTiming, decode_batch
from uniav.ops.nms import batched_nms
from uniav.pipeline.results import Detection, DetectionResult, TaskResult
from uniav.pipeline.windows import Window, merge_windows, plan_windows

ProgressFn = Callable[[float, str], None]
CUT_TOLERANCE = 2.0  # grid steps: a segment ending this close to a window edge was cut by it


def _noop(_: float, __: str) -> None:
    pass


@dataclass
class WindowOutputs:
    """Vocabulary-independent outputs of one window: per level the normalised visual embeddings
    (D', T_l) (or class logits for a convolutional classifier), the offsets and the masks (T_l,)."""

    window: Window
    vis: list[torch.Tensor]
    offsets: list[torch.Tensor]
    masks: list[torch.Tensor]


@dataclass
class TaskAnalysis:
    """A task's cached outputs on a clip, or why the task cannot run on it."""

    task: str
    windows: list[WindowOutputs] = field(default_factory=list)
    timing: GridTiming | None = None
    steps: int = 0
    skipped: str | None = None


@dataclass
class ClipAnalysis:
    path: str
    duration: float
    has_video: bool
    has_audio: bool
    notes: tuple[str, ...]
    tasks: dict[str, TaskAnalysis]


@dataclass(frozen=True)
class Vocabulary:
    """Labels and prompt template of one task for one detection request."""

    labels: tuple[str, ...]
    template: str

    def __post_init__(self) -> None:
        if not self.labels:
            raise ValueError("the label vocabulary is empty: give at least one label")
        dups = sorted({x for x in self.labels if self.labels.count(x) > 1})
        if dups:
            raise ValueError(f"duplicate labels in the vocabulary: {dups}")
        if "{label}" not in self.template:
            raise ValueError(f"the prompt template {self.template!r} has no {{label}} placeholder")

    def prompts(self) -> list[str]:
        return [self.template.format(label=x) for x in self.labels]


def task_grid(task: TaskConfig) -> SnippetGrid:
    return SnippetGrid(stride=task.feat_stride, num_frames=task.num_frames, fps=task.fps)


def skip_reason(task: TaskConfig, feats: ClipFeatures) -> str | None:
    if task.needs_video and not feats.has_video:
        return f"{task.name} needs the picture and this file has no video stream (audio-only input)"
    if task.needs_audio and not feats.has_audio:
        return f"{task.name} needs sound and this file has no audio track"
    return None


def nearest_labels(
    query: torch.Tensor, keys: torch.Tensor, query_labels: Sequence[str], key_labels: Sequence[str]
) -> torch.Tensor:
    """For each query label its training label: itself when present, else the highest cosine (rows of
    `query` / `keys` are L2-normalised projected prompt embeddings)."""
    index = {lab: i for i, lab in enumerate(key_labels)}
    nearest = (query @ keys.T).argmax(dim=1)
    exact = torch.tensor([index.get(lab, -1) for lab in query_labels], dtype=torch.long)
    return torch.where(exact >= 0, exact, nearest)


class Detector:
    """A model and its encoder, with caches so that repeated requests on a clip stay cheap.

    >>> det = Detector.from_pretrained("checkpoints/uniav-synth")
    >>> result = det.run("clip.mp4", vocabularies={"SED": ["dog bark", "car horn"]})
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
        self.encoder = (
            encoder
            if encoder is not None
            else build_encoder(
                model.config.encoder, cache=feature_cache if feature_cache is not None else FeatureCache()
            )
        )
        cfg = self.config
        dims = (self.encoder.visual_dim, self.encoder.audio_dim, self.encoder.text_dim)
        if dims != (cfg.visual_dim, cfg.audio_dim, cfg.text_dim):
            raise ValueError(
                f"encoder {self.encoder.spec.kind!r} gives features of widths (visual, audio, text) {dims} but the "
                f"model expects {(cfg.visual_dim, cfg.audio_dim, cfg.text_dim)}: use the encoder the model was "
                "trained with"
            )
        self.batch_size = batch_size
        self.max_cached = max_cached_clips
        self._analyses: OrderedDict[tuple[str, str], ClipAnalysis] = OrderedDict()
        self._prompt_cache: dict[str, np.ndarray] = {}
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
        """A model folder or Hub id with its own encoder; `encoder_options` add to (or replace) the encoder
        options recorded with the model (e.g. ``feature_dir`` for precomputed ONE-PEACE features)."""
        model = UniAV.from_pretrained(name_or_path, revision=revision, device=device)
        encoder = None
        if encoder_options:
            spec = model.config.encoder
            spec = replace(spec, options={**spec.options, **encoder_options})
            encoder = build_encoder(spec, cache=feature_cache if feature_cache is not None else FeatureCache())
        return cls(model, encoder, feature_cache=feature_cache, **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ---- step 1: clip -> cached vocabulary-independent outputs ----------------------------------
    def analyze(
        self, path: str | Path, tasks: Sequence[str] | None = None, progress: ProgressFn | None = None
    ) -> ClipAnalysis:
        """Decode, encode and run everything that does not depend on the vocabulary (cached)."""
        progress = progress or _noop
        task_cfgs = [self.config.task(t) for t in (tasks or self.config.task_names)]
        key = self._clip_key(path)
        with self._lock:
            cached = self._analyses.get(key)
            if cached is not None and all(t.name in cached.tasks for t in task_cfgs):
                self._analyses.move_to_end(key)
                progress(1.0, "cached")
                return cached
        grids = {t.name: task_grid(t) for t in task_cfgs}
        progress(0.0, "decoding and encoding")
        feats = self.encoder.encode_file(
            path, list(grids.values()), progress=lambda f: progress(0.8 * f, "decoding and encoding")
        )
        first = feats[grids[task_cfgs[0].name]]
        analysis = ClipAnalysis(
            str(path),
            first.duration,
            first.has_video,
            first.has_audio,
            tuple(dict.fromkeys(n for f in feats.values() for n in f.notes)),
            dict(cached.tasks) if cached is not None else {},
        )
        for i, t in enumerate(task_cfgs):
            progress(0.8 + 0.2 * i / len(task_cfgs), f"running the model ({t.name})")
            analysis.tasks[t.name] = self._analyze_task(t, feats[grids[t.name]])
        progress(1.0, "done")
        with self._lock:
            self._analyses[key] = analysis
            while len(self._analyses) > self.max_cached:
                self._analyses.popitem(last=False)
        return analysis

    def _clip_key(self, path: str | Path) -> tuple[str, str]:
        sha = getattr(self.encoder, "content_sha", None)
        if sha is not None and Path(path).is_file():
            return (sha(path), self.encoder.cache_key)
        return (str(path), self.encoder.cache_key)

    def _analyze_task(self, task: TaskConfig, feats: ClipFeatures) -> TaskAnalysis:
        why = skip_reason(task, feats)
        if why is not None:
            return TaskAnalysis(task.name, skipped=why)
        vis = torch.from_numpy(np.ascontiguousarray(feats.visual.T)).float()
        aud = torch.from_numpy(np.ascontiguousarray(feats.audio.T)).float()
        steps = vis.shape[1]
        if task.resize_to_max_len:
            # the ActivityNet regime: the whole clip as max_seq_len steps of a stretched grid
            length = task.max_seq_len
            timing = stretched_timing(steps, task, feats.duration)
            vis, aud = resize_to_length(vis, aud, length)
            windows = plan_windows(length, length)
        else:
            timing = GridTiming(task.feat_stride, task.num_frames, task.fps, feats.duration)
            windows = plan_windows(steps, task.max_seq_len)
        outputs: list[WindowOutputs] = []
        with torch.inference_mode():
            for i in range(0, len(windows), self.batch_size):
                chunk = windows[i : i + self.batch_size]
                batch = self.model.make_batch(
                    [vis[:, w.start : w.end] for w in chunk], [aud[:, w.start : w.end] for w in chunk], task.name
                )
                pyr = self.model.encode(batch.visual, batch.audio, batch.mask, task.name)
                if self.config.classifier is ClassifierKind.LANGUAGE:
                    vis_emb = self.model.cls_head.visual_embeddings(pyr.feats, pyr.masks)
                else:
                    vis_emb = self.model.cls_head(pyr.feats, pyr.masks, None, task.name)
                offsets = self.model.reg_head(pyr.feats, pyr.masks, task.name)
                for j, w in enumerate(chunk):
                    outputs.append(
                        WindowOutputs(
                            w,
                            [x[j].cpu() for x in vis_emb],
                            [x[j].cpu() for x in offsets],
                            [m[j, 0].cpu() for m in pyr.masks],
                        )
                    )
        return TaskAnalysis(task.name, outputs, timing, steps if not task.resize_to_max_len else task.max_seq_len)

    # ---- step 2: vocabulary -> detections -------------------------------------------------------
    def vocabulary(self, task: str, labels: Sequence[str] | None = None, template: str | None = None) -> Vocabulary:
        t = self.config.task(task)
        return Vocabulary(
            tuple(labels) if labels is not None else t.labels, template if template is not None else t.prompt_template
        )

    def embed_prompts(self, task: TaskConfig, vocab: Vocabulary) -> torch.Tensor:
        """(C, text_dim) prompt embeddings; a model's attached embeddings serve its own training prompts."""
        attached = self.model.prompt_embeddings.get(task.name)
        missing = [p for p in vocab.prompts() if p not in self._prompt_cache]
        if attached is not None and vocab.template == task.prompt_template:
            index = {lab: i for i, lab in enumerate(task.labels)}
            for lab, prompt in zip(vocab.labels, vocab.prompts(), strict=True):
                if lab in index:
                    self._prompt_cache.setdefault(prompt, attached[index[lab]].numpy())
            missing = [p for p in missing if p not in self._prompt_cache]
        if missing:
            try:
                emb = self.encoder.encode_text(missing)
            except UnknownPromptError as exc:
                raise ValueError(str(exc)) from exc
            for p, e in zip(missing, emb, strict=True):
                self._prompt_cache[p] = e
        rows = [self._prompt_cache[p] for p in vocab.prompts()]
        return torch.from_numpy(np.stack(rows)).float().to(self.device)

    def detect(
        self,
        analysis: ClipAnalysis,
        task: str,
        vocabulary: Vocabulary | None = None,
        threshold: float = 0.0,
        top_k: int | None = None,
    ) -> TaskResult:
        """Detections of `task` on an analysed clip for a vocabulary (default: the training one)."""
        tcfg = self.config.task(task)
        vocab = vocabulary or self.vocabulary(task)
        ta = analysis.tasks.get(tcfg.name)
        if ta is None:
            raise KeyError(f"{tcfg.name} was not analysed on {analysis.path}; call analyze() with this task")
        if ta.skipped is not None:
            return TaskResult(tcfg.name, skipped=ta.skipped, labels=vocab.labels, template=vocab.template)
        with torch.inference_mode():
            logits_fn, class_map = self._classifier(tcfg, vocab)
            segs, scores, labels = self._decode_windows(tcfg, ta, logits_fn, class_map, threshold)
        order = np.argsort(-scores, kind="stable")
        keep = order[scores[order] >= threshold]
        if top_k is not None:
            keep = keep[:top_k]
        dets = sorted(
            (
                Detection(vocab.labels[int(labels[i])], float(segs[i, 0]), float(segs[i, 1]), float(scores[i]))
                for i in keep
            ),
            key=lambda d: (d.start, -d.score),
        )
        return TaskResult(tcfg.name, tuple(dets), labels=vocab.labels, template=vocab.template)

    def _classifier(self, tcfg: TaskConfig, vocab: Vocabulary):
        """(window -> per-level logits, per vocabulary label the training class whose offsets it uses)."""
        if self.config.classifier is not ClassifierKind.LANGUAGE:
            if vocab.labels != tcfg.labels:
                raise ValueError(
                    "this model has convolutional classifiers: its vocabulary is fixed to the training labels"
                )
            return (lambda w: [x.T for x in w.vis]), torch.arange(tcfg.num_classes)
        head = self.model.cls_head
        text = head.text_embeddings(self.embed_prompts(tcfg, vocab)).cpu()
        scale = head.logit_scale.exp().cpu()
        class_map = torch.arange(len(vocab.labels))
        if tcfg.class_aware:
            train_vocab = Vocabulary(tcfg.labels, tcfg.prompt_template)
            train_text = head.text_embeddings(self.embed_prompts(tcfg, train_vocab)).cpu()
            class_map = nearest_labels(text, train_text, vocab.labels, tcfg.labels)

        def logits(w: WindowOutputs) -> list[torch.Tensor]:
            return [scale * (v.T @ text.T) * m[:, None].to(v.dtype) for v, m in zip(w.vis, w.masks, strict=True)]

        return logits, class_map

    def _decode_windows(
        self, tcfg: TaskConfig, ta: TaskAnalysis, logits_fn, class_map: torch.Tensor, threshold: float = 0.0
    ):
        # Candidates scoring below the caller's threshold can be dropped before Soft-NMS without changing
        # any output above it: scores only decay, and a pick below the threshold only decays scores that
        # are already below it.
        cfg = replace(self.config.decode, pre_nms_thresh=max(self.config.decode.pre_nms_thresh, threshold))
        # all windows at once: they share one padded length, so decoding and NMS run batched
        wins = ta.windows
        logits = [torch.stack(level) for level in zip(*(logits_fn(w) for w in wins), strict=True)]
        offsets = [
            torch.stack([o[:, class_map] if tcfg.class_aware else o for o in level])
            for level in zip(*(w.offsets for w in wins), strict=True)
        ]
        masks = [torch.stack(level) for level in zip(*(w.masks for w in wins), strict=True)]
        cand = decode_batch(logits, offsets, masks, self.model.points(masks[0].shape[1]), cfg)
        segs, scores, labels, vids = batched_nms(
            cand.segments, cand.scores, cand.labels, cfg, tcfg.nms_sigma, videos=cand.videos
        )
        segs, scores, labels, vids = segs.numpy().astype(np.float64), scores.numpy(), labels.numpy(), vids.numpy()
        per_window = []
        for i, w in enumerate(wins):
            mine = vids == i
            per_window.append((w.window, segs[mine] + w.window.start, scores[mine], labels[mine]))
        segs, scores, labels = merge_windows(per_window, CUT_TOLERANCE)
        if segs.shape[0]:
            segs = ta.timing.to_seconds(torch.from_numpy(segs)).numpy()
            real = segs[:, 1] > segs[:, 0]  # segments entirely outside the clip collapse when clipped
            segs, scores, labels = segs[real], scores[real], labels[real]
        return segs, scores, labels

    # ---- the whole way ------------------------------------------------------------------------------
    def run(
        self,
        path: str | Path,
        tasks: Sequence[str] | None = None,
        vocabularies: Mapping[str, Sequence[str]] | None = None,
        templates: Mapping[str, str] | None = None,
        threshold: float = 0.0,
        top_k: int | None = None,
        progress: ProgressFn | None = None,
    ) -> DetectionResult:
        """Detections for `tasks` (default: all the model's tasks) with optional per-task vocabularies
        and templates (default: the training ones)."""
        names = [self.config.task(t).name for t in (tasks or self.config.task_names)]
        vocabularies = {self.config.task(k).name: v for k, v in (vocabularies or {}).items()}
        templates = {self.config.task(k).name: v for k, v in (templates or {}).items()}
        vocabs = {t: self.vocabulary(t, vocabularies.get(t), templates.get(t)) for t in names}
        analysis = self.analyze(path, names, progress)
        results = {t: self.detect(analysis, t, vocabs[t], threshold, top_k) for t in names}
        return DetectionResult(
            file=str(path), duration=analysis.duration, tasks=results, notes=analysis.notes, model=self.model.source
        )

    def clear_cache(self) -> None:
        with self._lock:
            self._analyses.clear()
            self._prompt_cache.clear()


def with_threshold(result: TaskResult, threshold: float, top_k: int | None) -> TaskResult:
    """Filter an existing task result without re-running anything."""
    dets = sorted((d for d in result.detections if d.score >= threshold), key=lambda d: -d.score)
    if top_k is not None:
        dets = dets[:top_k]
    return replace(result, detections=tuple(sorted(dets, key=lambda d: (d.start, -d.score))))
