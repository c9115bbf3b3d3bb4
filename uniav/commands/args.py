"""Argument parsing shared by the commands: ``TASK=VALUE`` pairs, ``KEY=VALUE`` options, task lists and the
vocabulary flags (``--vocab TASK=FILE``, ``--template TASK=TEXT``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from uniav.config import ModelConfig
from uniav.vocabularies import Vocabulary, parse_labels


def parse_assignments(items: Sequence[str] | None, what: str) -> dict[str, str]:
    """``TASK=VALUE`` strings -> {TASK: VALUE} (task names upper-cased)."""
    out = {}
    for item in items or []:
        task, sep, value = item.partition("=")
        if not sep or not task.strip() or not value.strip():
            raise ValueError(f"{what} must look like TASK=VALUE, got {item!r}")
        out[task.strip().upper()] = value.strip()
    return out


def parse_options(items: Sequence[str] | None, what: str = "--encoder-option") -> dict[str, object]:
    """``KEY=VALUE`` strings -> options; integers and floats are converted, the rest stays text."""
    out: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} must look like KEY=VALUE, got {item!r}")
        text = value.strip()
        for cast in (int, float):
            try:
                out[key.strip()] = cast(text)
                break
            except ValueError:
                continue
        else:
            out[key.strip()] = text
    return out


def parse_tasks(text: str | None) -> list[str] | None:
    """``"tal,sed"`` -> ["tal", "sed"]; None or blank -> None (every task)."""
    if not text or not text.strip():
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def vocabularies_from_args(
    config: ModelConfig, vocab_items: Sequence[str] | None, template_items: Sequence[str] | None
) -> list[Vocabulary]:
    """The vocabularies that ``--vocab TASK=FILE`` (labels one per line) and ``--template TASK=TEXT`` ask for;
    a task given only one of them keeps the model's other one."""
    files = parse_assignments(vocab_items, "--vocab")
    templates = parse_assignments(template_items, "--template")
    out = []
    for name in dict.fromkeys([*files, *templates]):
        task = config.task(name)
        labels = task.labels
        if name in files:
            path = Path(files[name])
            if not path.is_file():
                raise FileNotFoundError(f"vocabulary file not found: {path}")
            labels = parse_labels(path.read_text(encoding="utf-8"))
        out.append(Vocabulary(task.name, labels, templates.get(name, task.prompt_template)))
    return out
