"""The realsounds and realpictures folders as typed records (read from their CSVs, nothing decoded).

`realsounds/clips.csv` (42 main classes), `extra_clips.csv` (19 small classes) and
`background.csv` (ambience beds); `realpictures/pictures.csv` (Tux Paint stamps). A record's
`file` is relative to its folder; the folders are read in place, never copied. Tux Paint
description sounds (spoken words, see `uniav.sounds.sources`) are left out.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath

from uniav.sounds.sources import SourceRef, is_spoken_description, parse_source

SOUND_COLUMNS = ("file", "label", "source", "license", "duration_s")
PICTURE_COLUMNS = ("file", "name", "category", "description", "width", "height", "source", "license")


class Pool(Enum):
    """Which CSV a recording comes from."""

    MAIN = "clips.csv"
    EXTRA = "extra_clips.csv"
    BED = "background.csv"


@dataclass(frozen=True)
class SoundFile:
    """One recording or background bed: `file` (relative to realsounds), its class folder name
    (`class_name`, e.g. ``cow_mooing``; the bed kind for beds), natural-phrase `label`, origin,
    licence, duration (s) and which CSV it is in."""

    file: str
    class_name: str
    label: str
    source: SourceRef
    license: str
    duration: float
    pool: Pool


@dataclass(frozen=True)
class Picture:
    """One RGBA picture: `file` (relative to realpictures), its name, category folder, description and size."""

    file: str
    name: str
    category: str
    description: str
    width: int
    height: int


@dataclass(frozen=True)
class Catalog:
    """Everything the benchmark can draw from, with the two folders it lives in."""

    realsounds: Path
    realpictures: Path
    recordings: tuple[SoundFile, ...]  # main classes, in CSV order
    extras: tuple[SoundFile, ...]  # small classes
    beds: tuple[SoundFile, ...]
    pictures: tuple[Picture, ...]

    def labels(self) -> dict[str, str]:
        """Class folder name -> label phrase, main and small classes (one phrase per class)."""
        return {r.class_name: r.label for r in self.recordings + self.extras}

    def main_classes(self) -> tuple[str, ...]:
        """The main class folder names, sorted."""
        return tuple(sorted({r.class_name for r in self.recordings}))

    def pictures_by_file(self) -> dict[str, Picture]:
        """Picture file -> its record."""
        return {p.file: p for p in self.pictures}


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (is the folder a realsounds / realpictures folder?)")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        return list(reader)


def _sound_files(folder: Path, pool: Pool) -> tuple[SoundFile, ...]:
    out = []
    for i, row in enumerate(_rows(folder / pool.value, SOUND_COLUMNS), start=2):
        where = f"{folder / pool.value} line {i}"
        parts = PurePosixPath(row["file"]).parts
        if len(parts) != 3:
            raise ValueError(f"{where}: file {row['file']!r} should be <folder>/<class>/<name>")
        try:
            source = parse_source(row["source"])
            duration = float(row["duration_s"])
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        if is_spoken_description(source):  # a spoken word, not the class's sound
            continue
        if pool is Pool.BED:  # beds are split by file: the source file (segments merged) is the group
            source = SourceRef(source.package, source.path, f"bed:{source.package}:{source.path}", None)
        out.append(SoundFile(row["file"], parts[1], row["label"], source, row["license"], duration, pool))
    return tuple(out)


def load_catalog(realsounds: Path, realpictures: Path) -> Catalog:
    """Read the four CSVs; FileNotFoundError / ValueError name the file and line at fault.

    Every listed file must exist (checked here, so a broken folder fails before any work).
    """
    realsounds, realpictures = Path(realsounds), Path(realpictures)
    for folder, what in ((realsounds, "realsounds"), (realpictures, "realpictures")):
        if not folder.is_dir():
            raise FileNotFoundError(f"{what} folder {folder} does not exist (pass --{what} DIR)")
    recordings = _sound_files(realsounds, Pool.MAIN)
    extras = _sound_files(realsounds, Pool.EXTRA)
    beds = _sound_files(realsounds, Pool.BED)
    pictures = []
    for i, row in enumerate(_rows(realpictures / "pictures.csv", PICTURE_COLUMNS), start=2):
        try:
            size = int(row["width"]), int(row["height"])
        except ValueError as exc:
            raise ValueError(f"{realpictures / 'pictures.csv'} line {i}: bad width/height ({exc})") from exc
        pictures.append(Picture(row["file"], row["name"], row["category"], row["description"], *size))
    missing = [realsounds / s.file for s in recordings + extras + beds if not (realsounds / s.file).is_file()]
    missing += [realpictures / p.file for p in pictures if not (realpictures / p.file).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} listed file(s) missing, e.g. {missing[0]}")
    labels: dict[str, str] = {}
    for r in recordings + extras:
        if labels.setdefault(r.class_name, r.label) != r.label:
            raise ValueError(f"class {r.class_name!r} has two labels: {labels[r.class_name]!r} and {r.label!r}")
    return Catalog(realsounds, realpictures, recordings, extras, beds, tuple(pictures))
