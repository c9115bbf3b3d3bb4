"""What the user sets per task (template, labels, threshold, max detections), the names those settings have
in the page's API (``labels_sed``, ``threshold_tal``...), and the vocabulary presets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from uniav.config import DEFAULT_TEMPLATES, TaskConfig
from uniav.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_K
from uniav.studio.errors import StudioError
from uniav.vocabularies import BUNDLED_VOCABULARIES, Vocabulary, VocabularyError, load_vocabulary

MAX_TOP_K = 100
PAGE_TASKS = ("TAL", "AVEL", "SED")  # the page's task panels, top to bottom; a model serves any subset of them
PART_TITLES = {"labels": "labels", "template": "prompt template"}

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

    def vocabulary(self, task: TaskConfig) -> Vocabulary:
        """The `Vocabulary` of these settings for the model's `task` (a bad list or template raises
        `StudioError` naming the task and the field)."""
        try:
            return Vocabulary.from_text(task.name, self.labels_text, self.template)
        except VocabularyError as exc:
            raise StudioError(f"{exc.task} {PART_TITLES.get(exc.part, exc.part)}", exc.detail) from None


@dataclass(frozen=True)
class TaskFields:
    """The names of one task's four settings as event parameters: what ``gradio_client`` users pass
    (``template_sed``, ``labels_sed``, ``threshold_sed``, ``top_k_sed``)."""

    task: str

    @property
    def template(self) -> str:
        return f"template_{self.task.lower()}"

    @property
    def labels(self) -> str:
        return f"labels_{self.task.lower()}"

    @property
    def threshold(self) -> str:
        return f"threshold_{self.task.lower()}"

    @property
    def top_k(self) -> str:
        return f"top_k_{self.task.lower()}"

    def settings(self, values: Mapping[str, object]) -> TaskSettings:
        """The task's settings from event values keyed by these names (a missing one takes its default)."""
        return TaskSettings.from_ui(
            values.get(self.template),  # type: ignore[arg-type]
            values.get(self.labels),  # type: ignore[arg-type]
            values.get(self.threshold),  # type: ignore[arg-type]
            values.get(self.top_k),  # type: ignore[arg-type]
        )


def settings_from_fields(values: Mapping[str, object], tasks: Sequence[str] = PAGE_TASKS) -> dict[str, TaskSettings]:
    """Per task its `TaskSettings` from event values named by `TaskFields`."""
    return {task: TaskFields(task).settings(values) for task in tasks}
