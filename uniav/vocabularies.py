"""Label vocabularies: the `Vocabulary` value (a task's labels and prompt template, validated once) and the
class lists shipped with the package (the paper's three datasets).

A `Vocabulary` is what the classifier compares a clip with: one prompt ``template.format(label=...)`` per
label. The CLI (``--vocab``, ``--template``), the studio's text boxes, the pipeline and the model
configuration all build the same value, so every rule (no empty list, no repeats, sane sizes, a template
with exactly the ``{label}`` placeholder) lives here and nowhere else.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import resources

MAX_LABELS = 1000
MAX_LABEL_CHARS = 200
PLACEHOLDER = "{label}"

# name -> (file in uniav/vocab, human title)
BUNDLED_VOCABULARIES = {
    "activitynet13": "ActivityNet 1.3 (200 actions)",
    "unav100": "UnAV-100 (100 audio-visual events)",
    "desed": "DESED (10 sound events)",
}


class VocabularyError(ValueError):
    """A label list or prompt template that cannot be used; `part` says which (``"labels"`` or ``"template"``)."""

    def __init__(self, task: str, part: str, detail: str) -> None:
        self.task = task
        self.part = part
        self.detail = detail
        where = f"{task} {part}" if task else part
        super().__init__(f"{where}: {detail}")


def check_template(template: str, task: str = "") -> str:
    """`template` stripped, if it holds the ``{label}`` placeholder and no other field."""
    tpl = template.strip()
    if PLACEHOLDER not in tpl:
        raise VocabularyError(
            task, "template", f"{tpl!r} has no {PLACEHOLDER} placeholder, e.g. 'A sound of {{label}}.'"
        )
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(tpl) if name is not None]
    except ValueError as exc:  # unbalanced braces
        raise VocabularyError(task, "template", f"{tpl!r}: {exc}") from None
    others = sorted({f for f in fields if f != "label"})
    if others:
        shown = ", ".join("{" + f + "}" for f in others)
        raise VocabularyError(task, "template", f"{tpl!r}: only {PLACEHOLDER} may appear in braces, not {shown}")
    return tpl


def check_labels(labels: Iterable[str], task: str = "") -> tuple[str, ...]:
    """The labels stripped, in order; empty lists, blank or oversized labels, repeats and too many raise."""
    out = tuple(str(x).strip() for x in labels)
    if not out:
        raise VocabularyError(task, "labels", "the list is empty: give at least one label")
    if any(not x for x in out):
        raise VocabularyError(task, "labels", "a label is blank")
    if len(out) > MAX_LABELS:
        raise VocabularyError(task, "labels", f"{len(out)} labels; at most {MAX_LABELS} per task")
    long = [x for x in out if len(x) > MAX_LABEL_CHARS]
    if long:
        raise VocabularyError(task, "labels", f"a label is longer than {MAX_LABEL_CHARS} characters: {long[0][:40]}…")
    seen: set[str] = set()
    dups = sorted({x for x in out if x in seen or seen.add(x)})
    if dups:
        raise VocabularyError(task, "labels", f"each label once, please; repeated: {', '.join(dups)}")
    return out


def parse_labels(text: str) -> tuple[str, ...]:
    """Labels written one per line (blank lines and surrounding spaces ignored); not validated."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class Vocabulary:
    """One task's labels and prompt template, validated on construction.

    `task` is the canonical task name (as the model configuration spells it); `labels` are stripped, unique
    and non-empty; `template` holds ``{label}`` and no other field.
    """

    task: str
    labels: tuple[str, ...]
    template: str = PLACEHOLDER

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", check_labels(self.labels, self.task))
        object.__setattr__(self, "template", check_template(self.template, self.task))

    @classmethod
    def from_text(cls, task: str, labels_text: str, template: str = PLACEHOLDER) -> Vocabulary:
        """From labels written one per line (as in a text box or a ``--vocab`` file)."""
        return cls(task, parse_labels(labels_text), template)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def text(self) -> str:
        """The labels one per line."""
        return "\n".join(self.labels)

    def prompts(self) -> list[str]:
        """One text prompt per label, in label order."""
        return [self.template.format(label=x) for x in self.labels]

    def with_labels(self, labels: Iterable[str]) -> Vocabulary:
        return replace(self, labels=tuple(labels))

    def with_template(self, template: str) -> Vocabulary:
        return replace(self, template=template)


def load_vocabulary(name: str) -> tuple[str, ...]:
    """Labels of a bundled class list, one per line, in file order."""
    if name not in BUNDLED_VOCABULARIES:
        raise KeyError(f"unknown vocabulary {name!r}; bundled: {sorted(BUNDLED_VOCABULARIES)}")
    text = resources.files("uniav").joinpath("vocab").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    return check_labels(parse_labels(text), name)


def parse_vocabulary(text: str) -> tuple[str, ...]:
    """Labels written one per line, validated (blank lines ignored; repeats raise `VocabularyError`)."""
    return check_labels(parse_labels(text))
