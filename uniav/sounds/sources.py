"""Where a recording comes from: the source group that must never straddle two splits.

The `source` column of the realsounds CSVs names the package (``deb:0ad-data_0.0.26-1``,
``github:owner/repo@commit``) and the original path; Kitchen20 rows also give the Freesound sound
id. The rules, in order:

* Kitchen20: the **Freesound sound id**. Several 5-s excerpts (takes A, B, C...) of one upload,
  and sometimes several classes, come from one recording.
* Donate-a-cry: the **app user id** (the UUID that starts the file name): one user's
  recordings are one baby and one phone.
* Everything else: the **series**, i.e. package + folder + file stem without its take number
  (``lumber_tree_01`` ... ``lumber_tree_26`` -> ``lumber_tree``). Variant letters belong to their
  take (``swordhit_12``, ``swordhit_12a``, ``swordhit_12b`` are take 12) and Tux Paint description
  sounds belong to their stamp (``sheep_lamb_desc_fr`` -> ``sheep_lamb``; ``pig_golden2`` ->
  ``pig_golden``). Numbered variants of one game sound are edits of one recording session, so they
  are kept together to avoid near-duplicate leakage. Different actions of one game unit
  (``bull_ack*`` and ``bull_die*``) are different series: a residual risk, accepted because
  grouping whole units would leave several classes with a single group.
* Background beds: the source file (``doing_the_dishes.wav [0-30 s]`` and ``[30-60 s]`` are one file).

Tux Paint *description* sounds (``pig_desc_fr.ogg``, ``sheep_lamb_desc_ru.ogg``: 39 clips of
"pig grunting" and "sheep bleating") are the stamp's name spoken in some language, not the animal:
YAMNet rates every one of them "Speech" (0.82-1.00). `is_spoken_description` spots them and the
catalog leaves them out.

Some classes come from a single series (0 A.D.'s ``lumber_tree_*`` is all of "axe chopping
wood"); `uniav.sounds.splits` then cuts that series into blocks of consecutive takes, the
likeliest near-duplicates being neighbours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

FREESOUND = re.compile(r"Freesound sound (\d+)")
USER_UUID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", re.IGNORECASE)
SEGMENT_SUFFIX = re.compile(r"\s*\[[^\]]*\]\s*$")  # "file.wav [0-30 s]": a segment of a longer file
DESCRIPTION_SUFFIX = re.compile(r"_desc(?:_[a-z]{2,3})?$")  # Tux Paint (localised) description sounds
VARIANT_LETTER = re.compile(r"(?<=\d)[a-z]$")  # swordhit_12a: a variant of take 12
TAKE_NUMBER = re.compile(r"[_\-]?(\d+)$")
DONATEACRY = "donateacry"


@dataclass(frozen=True)
class SourceRef:
    """A recording's origin: `group` (the split unit), its `series` and its `take` number in it.

    For Kitchen20 and Donate-a-cry the group is the Freesound id or the user id and `series`
    equals `group`; elsewhere `group` is the series, unless `uniav.sounds.splits` cuts it into
    blocks of takes.
    """

    package: str
    path: str
    series: str
    take: int | None


def parse_source(source: str) -> SourceRef:
    """The `SourceRef` of one CSV `source` value; ValueError when it names no package and path."""
    parts = source.strip().split(maxsplit=1)
    if len(parts) != 2 or ":" not in parts[0]:
        raise ValueError(f"source {source!r}: expected '<package> <original path>'")
    package, rest = parts
    freesound = FREESOUND.search(rest)
    if freesound:
        key = f"freesound:{freesound.group(1)}"
        return SourceRef(package, rest.split(" (", 1)[0], key, None)
    path = SEGMENT_SUFFIX.sub("", rest)
    if DONATEACRY in package:
        user = USER_UUID.match(PurePosixPath(path).name)
        if user is None:
            raise ValueError(f"source {source!r}: a Donate-a-cry file name should start with the user's UUID")
        key = f"{DONATEACRY}:{user.group(1).lower()}"
        return SourceRef(package, path, key, None)
    series, take = series_and_take(path)
    return SourceRef(package, path, f"{package_name(package)}:{series}", take)


def is_spoken_description(ref: SourceRef) -> bool:
    """Whether a source is a Tux Paint description sound (a spoken word, see the module docstring)."""
    stem = PurePosixPath(ref.path).stem.lower()
    return "tuxpaint" in ref.package and DESCRIPTION_SUFFIX.search(stem) is not None


def package_name(package: str) -> str:
    """``deb:0ad-data_0.0.26-1`` -> ``0ad-data``; ``github:owner/repo@commit`` -> ``owner/repo``."""
    name = package.split(":", 1)[1]
    return name.split("@", 1)[0] if package.startswith("github:") else name.split("_", 1)[0]


def series_and_take(path: str) -> tuple[str, int | None]:
    """(folder/series stem, take number or None) of an original file path (see the module docstring)."""
    p = PurePosixPath(path.split(":", 1)[-1])  # "public.zip:audio/x.ogg" -> "audio/x.ogg"
    stem = DESCRIPTION_SUFFIX.sub("", p.stem.lower())
    stem = VARIANT_LETTER.sub("", stem)
    take = None
    m = TAKE_NUMBER.search(stem)
    if m and m.start() > 0:
        take = int(m.group(1))
        stem = stem[: m.start()]
    return f"{p.parent.as_posix().lower()}/{stem}", take
