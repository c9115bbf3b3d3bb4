"""The training-free detector: pretrained classifiers' scores per snippet, bridged to the user's labels.

- **SED**: YAMNet's AudioSet scores (sigmoid of its 521 logits) of every snippet, bridged to the labels by
  MiniLM similarity to the AudioSet class names.
- **AVEL** (seen and heard at once): the audio bridge and the visual bridge (EfficientNet-Lite0's ImageNet
  probabilities, bridged to the labels by similarity to the ImageNet class names) must both fire: a label's
  probability is the geometric mean of the two.

Decoding (`uniav.baselines.segments`): runs above a ladder of thresholds, the model's Soft-NMS, seconds on the
task's grid. This is the baseline the trained default model is compared with; it needs the encoders' scores,
which `uniav extract` stores with the features and the feature cache keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uniav.baselines.bridge import DEFAULT_TEMPERATURE, DEFAULT_TOP, ClassBridge, TextFn, sigmoid_scores, softmax_scores
from uniav.baselines.segments import decode_probabilities
from uniav.config import DecodeConfig, TaskConfig
from uniav.data.transforms import task_timing
from uniav.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_K
from uniav.encoders import ClipFeatures, Encoder
from uniav.pipeline.detector import to_detections
from uniav.pipeline.results import DetectionResult, TaskResult
from uniav.vocabularies import Vocabulary

BRIDGED_TASKS = ("SED", "AVEL")


@dataclass(frozen=True)
class BridgeSettings:
    top: int = DEFAULT_TOP
    temperature: float = DEFAULT_TEMPERATURE
    decode: DecodeConfig = DecodeConfig()


class BridgeDetector:
    """`encoder` must keep audio scores (``yamnet``) and, for AVEL, visual scores (``effnet``); `encode_text`
    embeds labels and class names (MiniLM); `tasks` give the grids (e.g. the trained model's SED and AVEL)."""

    def __init__(
        self,
        encoder: Encoder,
        encode_text: TextFn,
        tasks: Sequence[TaskConfig],
        settings: BridgeSettings | None = None,
    ) -> None:
        self.encoder = encoder
        self.encode_text = encode_text
        self.settings = settings or BridgeSettings()
        unknown = [t.name for t in tasks if t.name not in BRIDGED_TASKS]
        if unknown:
            raise ValueError(f"the bridge detects {', '.join(BRIDGED_TASKS)}, not {', '.join(unknown)}")
        self.tasks = {t.name: t for t in tasks}
        self._bridges: dict[str, ClassBridge] = {}

    def _bridge(self, modality: str) -> ClassBridge:
        if modality not in self._bridges:
            names = self.encoder.audio_score_classes if modality == "audio" else self.encoder.visual_score_classes
            if names is None:
                raise ValueError(f"the {modality} encoder keeps no classifier scores: the bridge needs them")
            s = self.settings
            self._bridges[modality] = ClassBridge.build(names, self.encode_text, top=s.top, temperature=s.temperature)
        return self._bridges[modality]

    def label_probabilities(self, task: str, feats: ClipFeatures, labels: Sequence[str]) -> np.ndarray:
        """(T, C) probability of each label at each snippet of the task's grid."""
        emb = np.asarray(self.encode_text(list(labels)))
        if feats.audio_scores is None:
            raise ValueError("these features carry no audio scores (extract them with the yamnet audio encoder)")
        audio = self._bridge("audio").label_scores(sigmoid_scores(feats.audio_scores), emb)
        if task == "SED":
            return audio
        if feats.visual_scores is None:
            raise ValueError("these features carry no visual scores (extract them with the effnet visual encoder)")
        visual = self._bridge("visual").label_scores(softmax_scores(feats.visual_scores), emb)
        return np.sqrt(np.clip(audio, 0.0, 1.0) * np.clip(visual, 0.0, 1.0))  # both halves must fire

    def detect_all(self, feats: ClipFeatures, vocabulary: Vocabulary) -> TaskResult:
        task = self.tasks[vocabulary.task]
        probs = self.label_probabilities(task.name, feats, vocabulary.labels)
        segs, scores, labels = decode_probabilities(
            probs, task_timing(task, feats.duration), self.settings.decode, task.nms_sigma
        )
        return to_detections(vocabulary, segs, scores, labels)

    def run(
        self,
        path: str | Path,
        vocabularies: Iterable[Vocabulary],
        threshold: float = DEFAULT_THRESHOLD,
        top_k: int | None = DEFAULT_TOP_K,
    ) -> DetectionResult:
        vocabs = list(vocabularies)
        grids = {v.task: self.tasks[v.task].grid for v in vocabs}
        feats = self.encoder.encode_file(path, list(dict.fromkeys(grids.values())))
        results: dict[str, TaskResult] = {}
        for v in vocabs:
            f = feats[grids[v.task]]
            if not f.has_audio or (v.task == "AVEL" and not f.has_video):
                results[v.task] = TaskResult(v.task, skipped="the bridge needs the tracks this task uses", vocabulary=v)
                continue
            results[v.task] = self.detect_all(f, v).filtered(threshold, top_k)
        first = next(iter(feats.values()))
        return DetectionResult(
            file=str(path), duration=first.duration, tasks=results, notes=first.notes, model="training-free bridge"
        )

    def detect_features(self, items: Mapping[str, ClipFeatures], vocabulary: Vocabulary) -> dict[str, TaskResult]:
        """Every detection of many clips (id -> features on the task's grid)."""
        return {vid: self.detect_all(f, vocabulary) for vid, f in items.items()}
