"""What a model knows, said plainly: per task the classes it was trained on and whether that training was
real-world media or synthetic, and what each of its encoders can recognise at all.

Built from the model's configuration alone (`ModelConfig.provenance`, its vocabularies and encoder kinds), so
the studio's model panel, ``uniav predict`` (once on stderr, and in its JSON output) and the model cards all
say the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from uniav.config import AudioKind, ModelConfig, TextKind, VisualKind

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")


def _md(text: str) -> str:
    """`text` with Markdown specials escaped (labels and data descriptions are shown literally)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


# what each encoder can carry into the model, whatever the model was trained on
VISUAL_KNOWLEDGE = {
    VisualKind.SIGNAL: "hand-made colour, texture and motion statistics: no notion of what objects are",
    VisualKind.EFFNET: "EfficientNet-Lite0 trained on ImageNet-1k: recognises objects (animals, tools, vehicles...), "
    "not actions",
    VisualKind.CLIP: "CLIP image embeddings: objects and scenes described in language",
    VisualKind.FEATURES: "precomputed features (e.g. the authors' ONE-PEACE video features)",
}
AUDIO_KNOWLEDGE = {
    AudioKind.SIGNAL: "hand-made spectral statistics: no notion of what sounds are",
    AudioKind.YAMNET: "YAMNet trained on AudioSet: recognises about 500 everyday sound classes",
    AudioKind.CLAP: "CLAP audio embeddings: sounds described in language",
    AudioKind.FEATURES: "precomputed features (e.g. the authors' ONE-PEACE audio features)",
}
TEXT_KNOWLEDGE = {
    TextKind.SIGNAL: "hashed character n-grams: spelling, not meaning (a new label is matched by its letters)",
    TextKind.MINILM: "all-MiniLM-L6-v2 sentence embeddings: meaning (a new label borrows from similar ones)",
    TextKind.CLIP: "CLIP text embeddings",
    TextKind.CLAP: "CLAP text embeddings",
    TextKind.CLIP_CLAP: "CLIP and CLAP text embeddings",
    TextKind.FEATURES: "stored prompt embeddings only: labels outside them cannot be used",
}


@dataclass(frozen=True)
class TaskKnowledge:
    task: str
    labels: tuple[str, ...]
    data: str  # what it was trained on ("" when the model does not say)
    real: bool | None  # trained on real-world media (False: synthetic only; None: unknown)

    @property
    def verdict(self) -> str:
        if self.real is True:
            return "real-world training data"
        if self.real is False:
            return "synthetic training data only: its results on real videos are not meaningful"
        return "training data not recorded with the model"

    @property
    def trained_on(self) -> str:
        return f"trained on {self.data} ({self.verdict})" if self.data else self.verdict


@dataclass(frozen=True)
class ModelKnowledge:
    """Per task what it was trained on, and what the encoders know."""

    tasks: tuple[TaskKnowledge, ...]
    encoders: dict[str, str]  # modality -> "kind: what it knows"
    note: str

    @classmethod
    def of(cls, config: ModelConfig) -> ModelKnowledge:
        prov = config.provenance.tasks
        tasks = tuple(
            TaskKnowledge(
                t.name,
                t.labels,
                prov[t.name].data if t.name in prov else "",
                prov[t.name].real if t.name in prov else None,
            )
            for t in config.tasks
        )
        spec = config.encoder
        encoders = {
            "visual": f"{spec.visual.kind}: {VISUAL_KNOWLEDGE[spec.visual.kind]}",
            "audio": f"{spec.audio.kind}: {AUDIO_KNOWLEDGE[spec.audio.kind]}",
            "text": f"{spec.text.kind}: {TEXT_KNOWLEDGE[spec.text.kind]}",
        }
        return cls(tasks, encoders, config.provenance.note)

    @property
    def synthetic_tasks(self) -> tuple[str, ...]:
        return tuple(t.task for t in self.tasks if t.real is False)

    def lines(self, max_labels: int = 12) -> list[str]:
        """Plain-text lines (for a terminal)."""
        out = []
        for t in self.tasks:
            shown = ", ".join(t.labels[:max_labels]) + (
                f", ... ({len(t.labels)} in all)" if len(t.labels) > max_labels else ""
            )
            out.append(f"{t.task}: {t.trained_on}; classes: {shown}")
        out += [f"{slot} encoder {what}" for slot, what in self.encoders.items()]
        if self.note:
            out.append(self.note)
        return out

    def markdown(self, max_labels: int = 40) -> str:
        """The model panel's text."""
        rows = []
        for t in self.tasks:
            icon = {True: "✅", False: "⚠️"}.get(t.real, "❔")
            shown = ", ".join(map(_md, t.labels[:max_labels])) + (" …" if len(t.labels) > max_labels else "")
            rows.append(f"- {icon} **{t.task}** {_md(t.trained_on)}.  \n  {len(t.labels)} classes: {shown}")
        rows += [f"- {slot} encoder: {what}" for slot, what in self.encoders.items()]
        if self.note:
            rows.append(f"- {self.note}")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """For the JSON output of ``uniav predict``."""
        return {
            "tasks": {
                t.task: {"trained_on": t.data or None, "real_world_training": t.real, "classes": list(t.labels)}
                for t in self.tasks
            },
            "encoders": dict(self.encoders),
            "note": self.note or None,
        }
