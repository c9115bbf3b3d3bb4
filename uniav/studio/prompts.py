"""What the user sets per task (template, labels, threshold, max detections) and the vocabulary presets."""

from __future__ import annotations

import math
from dataclasses import dataclass

from uniav.config import DEFAULT_TEMPLATES, TaskConfig
from uniav.pipeline.detector import Detector, Vocabulary
from uniav.studio.errors import StudioError
from uniav.vocabularies import BUNDLED_VOCABULARIES, load_vocabulary

DEFAULT_THRESHOLD = 0.1
DEFAULT_TOP_K = 20
MAX_TOP_K = 100
MAX_LABELS = 1000
MAX_LABEL_CHARS = 200

PRESET_MODEL = "model"
# the paper's dataset each task was evaluated on: the natural non-model preset of the task
PAPER_PRESET = {"TAL": "activitynet13", "AVEL": "unav100", "SED": "desed"}


def preset_choices() -> list[tuple[str, str]]:
    """(shown, value) pairs of the vocabulary presets: the model's own labels, then the paper's datasets."""
    return [("The model's training labels", PRESET_MODEL)] + [
        (title, name) for name, title in BUNDLED_VOCABULARIES.items()
    ]


def preset_labels(preset: str, task: TaskConfig | None) -> tuple[str, ...]:
    """The labels of a preset; the model preset needs the model's `task`."""
    if preset == PRESET_MODEL:
        if task is None:
            raise StudioError("No model loaded", "load a model to use its training labels")
        return task.labels
    try:
        return load_vocabulary(preset)
    except KeyError:
        raise StudioError("Unknown preset", f"{preset!r}; choose one of {[v for _, v in preset_choices()]}") from None


def default_template(task: TaskConfig | None, name: str) -> str:
    return task.prompt_template if task is not None else DEFAULT_TEMPLATES.get(name, "{label}")


def labels_text(labels: tuple[str, ...]) -> str:
    return "\n".join(labels)


@dataclass(frozen=True)
class TaskSettings:
    """One task's settings as the page holds them (the labels are text, one label per line)."""

    template: str
    labels_text: str
    threshold: float = DEFAULT_THRESHOLD
    top_k: int = DEFAULT_TOP_K

    @classmethod
    def from_ui(
        cls, template: str | None, labels: str | None, threshold: float | None, top_k: float | None
    ) -> TaskSettings:
        thr = DEFAULT_THRESHOLD if threshold is None or not math.isfinite(float(threshold)) else float(threshold)
        k = DEFAULT_TOP_K if top_k is None or not math.isfinite(float(top_k)) else round(float(top_k))
        return cls(template or "", labels or "", min(max(thr, 0.0), 1.0), min(max(k, 1), MAX_TOP_K))

    def labels(self, task: str) -> tuple[str, ...]:
        """The labels, one per non-blank line, stripped; empty, duplicate or oversized lists raise."""
        labels = tuple(line.strip() for line in self.labels_text.splitlines() if line.strip())
        if not labels:
            raise StudioError(f"{task} labels", "the list is empty: write at least one label, one per line")
        if len(labels) > MAX_LABELS:
            raise StudioError(f"{task} labels", f"{len(labels)} labels; at most {MAX_LABELS} per task")
        long = [x for x in labels if len(x) > MAX_LABEL_CHARS]
        if long:
            raise StudioError(f"{task} labels", f"a label longer than {MAX_LABEL_CHARS} characters: {long[0][:40]}…")
        seen: set[str] = set()
        dups = sorted({x for x in labels if x in seen or seen.add(x)})
        if dups:
            raise StudioError(f"{task} labels", f"each label once, please; repeated: {', '.join(dups)}")
        return labels

    def check_template(self, task: str) -> str:
        """The template, if it has exactly the ``{label}`` placeholder (other braces raise)."""
        tpl = self.template.strip()
        if "{label}" not in tpl:
            raise StudioError(
                f"{task} prompt template",
                f"{tpl!r} has no {{label}} placeholder, e.g. {DEFAULT_TEMPLATES.get(task, 'A photo of {label}.')!r}",
            )
        try:
            tpl.format(label="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise StudioError(
                f"{task} prompt template", f"{tpl!r}: only {{label}} may appear in braces ({exc!s})"
            ) from None
        return tpl

    def vocabulary(self, detector: Detector, task: str) -> Vocabulary:
        """The detector's `Vocabulary` for these settings (validation errors raise `StudioError`)."""
        labels, template = self.labels(task), self.check_template(task)
        try:
            return detector.vocabulary(task, labels, template)
        except ValueError as exc:
            raise StudioError(f"{task} vocabulary", str(exc)) from None
