"""What one subset's clips may draw from, and the class vocabularies of the annotation files.

A `Pool` holds the files of one subset only, so a clip can never mix subsets. The seen pools
(training, validation, testing) leave the held-out classes out entirely; the zero-shot pool is
the testing subset's held-out classes (with the small classes and neutral pictures of testing).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from uniav.sounds.catalog import Catalog, SoundFile
from uniav.sounds.picture_map import PictureMap
from uniav.sounds.splits import TESTING, Splits
from uniav.synth.vocab import Kind


@dataclass(frozen=True)
class ClassList:
    """The classes of one annotation file, in label-id order: folder names and label phrases."""

    kind: Kind
    class_names: tuple[str, ...]
    labels: tuple[str, ...]

    def label_id(self, class_name: str) -> int:
        return self.class_names.index(class_name)

    def label(self, class_name: str) -> str:
        return self.labels[self.class_names.index(class_name)]


def unannotated_label(class_name: str) -> str:
    """The label written for an unannotated item (never in an annotation file): its class folder as words."""
    return class_name.replace("_", " ")


@dataclass(frozen=True)
class Pool:
    """One subset's material. `events`: recordings of the classes that may be annotated;
    `sounds`: recordings usable as unannotated sounds (main and small classes); `extras`: small
    classes only; `pictures`: source pictures of the AVEL and distractor classes; `clutter`:
    pictures of no sound class."""

    subset: str
    events: dict[str, tuple[SoundFile, ...]]
    sounds: dict[str, tuple[SoundFile, ...]]
    extras: dict[str, tuple[SoundFile, ...]]
    beds: tuple[SoundFile, ...]
    pictures: dict[str, tuple[str, ...]]
    clutter: tuple[str, ...]

    def event_classes(self, vocab: ClassList) -> tuple[str, ...]:
        """Classes of `vocab` that have recordings here (and, for AVEL, pictures)."""
        need_picture = vocab.kind is Kind.AVEL
        return tuple(c for c in vocab.class_names if self.events.get(c) and (not need_picture or self.pictures.get(c)))


def vocabularies(catalog: Catalog, picture_map: PictureMap, held_out: tuple[str, ...]) -> dict[str, ClassList]:
    """The four vocabularies: "sed" and "avel" (seen classes), "sed_zeroshot" and "avel_zeroshot"
    (held-out classes). Classes are sorted by folder name."""
    labels = catalog.labels()
    main = catalog.main_classes()
    seen = tuple(c for c in main if c not in held_out)
    unseen = tuple(sorted(held_out))
    avel = set(picture_map.avel_classes)

    def vocab(kind: Kind, names: tuple[str, ...]) -> ClassList:
        return ClassList(kind, names, tuple(labels[c] for c in names))

    return {
        "sed": vocab(Kind.SED, seen),
        "avel": vocab(Kind.AVEL, tuple(c for c in seen if c in avel)),
        "sed_zeroshot": vocab(Kind.SED, unseen),
        "avel_zeroshot": vocab(Kind.AVEL, tuple(c for c in unseen if c in avel)),
    }


def _by_class(files: tuple[SoundFile, ...], keep) -> dict[str, tuple[SoundFile, ...]]:
    out: dict[str, list[SoundFile]] = defaultdict(list)
    for f in files:
        if keep(f):
            out[f.class_name].append(f)
    return {c: tuple(v) for c, v in sorted(out.items())}


def make_pool(catalog: Catalog, splits: Splits, picture_map: PictureMap, subset: str, zeroshot: bool = False) -> Pool:
    """The pool of `subset` (seen classes), or with `zeroshot` the testing pool of the held-out classes."""
    if zeroshot and subset != TESTING:
        raise ValueError("the zero-shot pool is made of testing material")
    held = set(splits.held_out)

    def here(f: SoundFile) -> bool:
        return splits.sounds.get(f.file) == subset

    def main_ok(f: SoundFile) -> bool:
        return here(f) and ((f.class_name in held) == zeroshot)

    events = _by_class(catalog.recordings, main_ok)
    extras = _by_class(catalog.extras, here)
    beds = tuple(b for b in catalog.beds if here(b))
    allowed = held if zeroshot else set(catalog.main_classes()) - held
    pictures = {}
    for table in (picture_map.classes, picture_map.distractors):
        for cls, files in table.items():
            if table is picture_map.classes and cls not in allowed:
                continue
            mine = tuple(f for f in files if splits.pictures.get(f) == subset)
            if mine:
                pictures[cls] = mine
    sources = picture_map.source_pictures()
    clutter = tuple(sorted(f for f, s in splits.pictures.items() if s == subset and f not in sources))
    return Pool(subset, events, {**events, **extras}, extras, beds, pictures, clutter)
