"""The example clips the page offers, named by what is in them.

Examples are the ``*.mp4`` and ``*.wav`` files under the examples folder (sub-folders too, hidden ones and
empty files skipped). Their names in the page come from ``examples.json`` in that folder, written by whoever
makes the examples: ``{"path/relative/to/the/folder.mp4": "what happens in it", ...}`` (a bare file name works
too); a clip it does not describe is named after its file (``dog_bark.wav`` -> "dog bark"). A broken
``examples.json`` is logged and ignored: the examples stay usable under their file names.

The page passes an example to the analysis by its position in this list and the studio reads the file from
the examples folder itself, so an example never depends on a copy in Gradio's upload cache (which
``delete_cache`` empties on its schedule).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("uniav.studio")
EXAMPLE_PATTERNS = ("*.mp4", "*.wav")
DESCRIPTIONS_FILE = "examples.json"
MAX_LABEL_CHARS = 120
_SEPARATORS = re.compile(r"[_\-.\s]+")


@dataclass(frozen=True)
class Example:
    """One example clip: the file and the name the page shows for it."""

    path: Path
    label: str


def list_examples(folder: Path) -> list[Path]:
    """The example clips under `folder` (``*.mp4`` and ``*.wav``, in sub-folders too, skipping hidden ones
    and empty files), sorted by path; none if the folder is missing."""
    if not folder.is_dir():
        return []
    found = {
        p
        for pattern in EXAMPLE_PATTERNS
        for p in folder.rglob(pattern)
        if p.is_file() and p.stat().st_size and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def readable_name(path: Path) -> str:
    """A file's name as words: ``avel_00000.mp4`` -> "avel 00000", ``Dog-Bark.wav`` -> "Dog Bark"."""
    return _SEPARATORS.sub(" ", path.stem).strip() or path.name


def read_descriptions(file: Path) -> dict[str, str]:
    """``examples.json``: clip path (relative to its folder, or a bare name) -> description; {} when the file is
    missing, and {} with a warning in the log when it is not such a mapping."""
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("%s is not readable JSON (%s); the examples keep their file names", file, exc)
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        log.warning("%s must map clip paths to descriptions (strings); the examples keep their file names", file)
        return {}
    return {k.strip(): " ".join(v.split()) for k, v in data.items() if v.strip()}


def load_examples(folder: Path) -> tuple[Example, ...]:
    """The example clips of `folder` with their names (see the module docstring)."""
    descriptions = read_descriptions(folder / DESCRIPTIONS_FILE)
    examples = []
    for path in list_examples(folder):
        text = descriptions.get(path.relative_to(folder).as_posix()) or descriptions.get(path.name)
        label = text or readable_name(path)
        if len(label) > MAX_LABEL_CHARS:
            label = label[: MAX_LABEL_CHARS - 1] + "…"
        examples.append(Example(path, label))
    return tuple(examples)
