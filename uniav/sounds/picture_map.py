"""The reviewed map from sound classes to the pictures of their sources (`picture_map.toml`).

`classes`: the AVEL classes (main sound classes with fitting pictures), each with its pictures.
`distractors`: small classes whose picture and sound feed unannotated negatives only, with the
main classes they must never be paired with (`related`). See the data file for every choice.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from uniav.sounds.catalog import Catalog

MAP_FILE = Path(__file__).with_name("picture_map.toml")


@dataclass(frozen=True)
class PictureMap:
    """Class folder name -> picture files (relative to realpictures), and distractor relations."""

    classes: dict[str, tuple[str, ...]]
    distractors: dict[str, tuple[str, ...]]
    related: dict[str, frozenset[str]]  # distractor class -> main classes it must not be paired with

    @property
    def avel_classes(self) -> tuple[str, ...]:
        """The AVEL classes, sorted."""
        return tuple(sorted(self.classes))

    def source_pictures(self) -> frozenset[str]:
        """Every picture that shows a sound source (never used as neutral clutter)."""
        return frozenset(f for files in (*self.classes.values(), *self.distractors.values()) for f in files)

    def owner(self) -> dict[str, str]:
        """Picture file -> the class (AVEL or distractor) it shows."""
        return {f: c for table in (self.classes, self.distractors) for c, files in table.items() for f in files}

    def may_pair(self, sound_class: str, picture_class: str) -> bool:
        """Whether a sound of `sound_class` with a picture of `picture_class` is a clear mismatch."""
        if sound_class == picture_class:
            return False
        return picture_class not in self.related.get(sound_class, ()) and sound_class not in self.related.get(
            picture_class, ()
        )


def load_picture_map(catalog: Catalog, path: Path = MAP_FILE) -> PictureMap:
    """Read and check the map against the catalog: known classes and pictures, each picture once."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"picture map {path}: {exc}") from exc
    unknown = sorted(set(data) - {"classes", "distractors"})
    if unknown:
        raise ValueError(f"picture map {path}: unknown table(s) {unknown} (expected classes, distractors)")
    main = set(catalog.main_classes())
    extra = {r.class_name for r in catalog.extras}
    files = {p.file for p in catalog.pictures}
    seen: dict[str, str] = {}
    tables: dict[str, dict[str, tuple[str, ...]]] = {"classes": {}, "distractors": {}}
    related: dict[str, frozenset[str]] = {}
    for table, allowed in (("classes", main), ("distractors", extra)):
        for name, entry in data.get(table, {}).items():
            where = f"picture map {path}: [{table}.{name}]"
            if name not in allowed:
                raise ValueError(
                    f"{where}: not a class of the realsounds {'main' if table == 'classes' else 'extra'} set"
                )
            pictures = entry.get("pictures")
            if not isinstance(pictures, list) or not all(isinstance(p, str) for p in pictures):
                raise ValueError(f"{where}: 'pictures' must be a list of file names")
            if table == "classes" and not pictures:
                raise ValueError(f"{where}: an AVEL class needs at least one picture")
            for p in pictures:
                if p not in files:
                    raise ValueError(f"{where}: {p!r} is not in pictures.csv")
                if p in seen:
                    raise ValueError(f"{where}: {p!r} is already the picture of {seen[p]!r}")
                seen[p] = name
            tables[table][name] = tuple(pictures)
            if table == "distractors":
                rel = entry.get("related", [])
                bad = sorted(set(rel) - main) if isinstance(rel, list) else rel
                if bad:
                    raise ValueError(f"{where}: 'related' must list main classes, got {bad!r}")
                related[name] = frozenset(rel)
    return PictureMap(tables["classes"], tables["distractors"], related)
