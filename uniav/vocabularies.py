"""Class vocabularies shipped with the package (the paper's three datasets)."""

from __future__ import annotations

from importlib import resources

# name -> (file in uniav/vocab, human title)
BUNDLED_VOCABULARIES = {
    "activitynet13": "ActivityNet 1.3 (200 actions)",
    "unav100": "UnAV-100 (100 audio-visual events)",
    "desed": "DESED (10 sound events)",
}


def load_vocabulary(name: str) -> tuple[str, ...]:
    """Labels of a bundled vocabulary, one per line, in file order."""
    if name not in BUNDLED_VOCABULARIES:
        raise KeyError(f"unknown vocabulary {name!r}; bundled: {sorted(BUNDLED_VOCABULARIES)}")
    text = resources.files("uniav").joinpath("vocab").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    return parse_vocabulary(text)


def parse_vocabulary(text: str) -> tuple[str, ...]:
    """One label per line; blank lines and surrounding whitespace are ignored, duplicates rejected."""
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    seen: set[str] = set()
    dups = [x for x in labels if x in seen or seen.add(x)]
    if dups:
        raise ValueError(f"duplicate labels in vocabulary: {sorted(set(dups))}")
    return labels
