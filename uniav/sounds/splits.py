"""Training / validation / testing splits by source, the held-out classes and the usable beds.

Pure functions of the catalog, the picture map, the shares and the seed. No source group (see
`uniav.sounds.sources`) feeds two subsets; no picture file is in two subsets. Splits are
stratified: each class's groups are shared out so that its training / validation / testing
counts follow the shares, and a class with two or more groups always gets a testing group. Groups
shared by several classes (Kitchen20 uploads) are placed once, by the rarest class first.

The held-out classes (`HELD_OUT_CLASSES`) are never seen in training or validation, in either
task: all their recordings and pictures are in the testing subset, and so is every group one of
their recordings belongs to (a Freesound upload that also feeds a seen class goes to testing).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from uniav.sounds.catalog import Catalog, Picture, SoundFile
from uniav.sounds.picture_map import PictureMap

TRAINING, VALIDATION, TESTING = "training", "validation", "testing"
SUBSETS = (TRAINING, VALIDATION, TESTING)

HELD_OUT_CLASSES: tuple[str, ...] = (
    # One class per family of sound sources, four with pictures (zero-shot AVEL) and four without.
    "sheep_bleating",  # farm animals (AVEL: sheep, lamb, ram; ImageNet has "ram"); cow, pig, horse, chicken stay
    "elephant_trumpeting",  # wild animals (AVEL: ImageNet has elephants); a call unlike the farm animals' (birds stay)
    "hammering_wood",  # hand tools (AVEL: hammer and mallet; ImageNet "hammer"); impacts, saw/axe/pickaxe stay
    "boiling_water",  # kitchen heat (AVEL: kettle and pots); a steady bubbling noise, frying pan and stove stay
    "blender",  # kitchen appliances (SED only); AudioSet has "Blender"; juicer, microwave, fridge stay
    "cutlery",  # kitchen handling (SED only); clattering metal, plates and dishes stay
    "swords_clashing",  # weapons and combat foley (SED only); metallic clangs, shield/bow/arrow stay
    "footsteps",  # human activity (SED only); rhythmic steps on many surfaces; eating and sweeping stay
    # Not held out: nature (fire, rustling leaves: only two classes, both AVEL) and baby crying
    # (a favourite of users' own recordings, from a single corpus).
)

EXCLUDED_BED_KINDS: Mapping[str, str] = {
    # Background kinds that contain target-class sounds: as a bed they would be unannotated positives.
    "countryside_day": "birds calling (bird_calling)",
    "forest_day": "birds calling (bird_calling)",
    "tropical_forest": "birds calling (bird_calling)",
    "wesnoth_morning": "birdsong (bird_calling)",
    "farmyard": "farm animals (cow_mooing, pig_grunting, sheep_bleating, chicken_clucking...)",
    "doing_the_dishes": "dishes and cutlery (clean_dishes, plates, cutlery)",
    "running_tap": "tap water (water_flowing)",
}

MIN_SERIES = 3  # a class drawn from fewer series has its series cut into blocks of consecutive takes
TARGET_BLOCKS = 5  # about this many blocks for such a class


@dataclass(frozen=True)
class Shares:
    """Shares of source groups (and of clips) in the training, validation and testing subsets."""

    training: float = 0.7
    validation: float = 0.1
    testing: float = 0.2

    def __post_init__(self) -> None:
        v = (self.training, self.validation, self.testing)
        if min(v) < 0 or self.training <= 0 or sum(v) <= 0:
            raise ValueError(f"split shares {v} must be non-negative with a positive training share")

    def as_tuple(self) -> tuple[float, float, float]:
        total = self.training + self.validation + self.testing
        return self.training / total, self.validation / total, self.testing / total


@dataclass(frozen=True)
class Splits:
    """Subset of every usable realsounds file (recordings, small classes, beds) and picture.

    `groups` maps each realsounds file to its source group; excluded beds are in neither map.
    """

    held_out: tuple[str, ...]
    sounds: dict[str, str]
    pictures: dict[str, str]
    groups: dict[str, str]


def targets(n: int, shares: Shares) -> np.ndarray:
    """Groups wanted in (training, validation, testing) for a class of `n` groups.

    One group: training. Two or more: at least one testing group. Four or more: at least one
    validation group (when its share is positive). Rounding is half-up; training keeps one.
    """
    _, s_val, s_test = shares.as_tuple()
    if n <= 1:
        return np.array([n, 0, 0])
    test = min(max(1, math.floor(n * s_test + 0.5)), n - 1) if s_test > 0 else 0
    val = min(max(1, math.floor(n * s_val + 0.5)), n - 1 - test) if s_val > 0 and n >= 4 else 0
    return np.array([n - val - test, val, test])


def assign_groups(
    strata: Mapping[str, frozenset[str]],
    shares: Shares,
    seed: int,
    forced: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Subset of each group, given the strata (classes) each group holds.

    `forced` fixes some groups' subsets first. Then strata are taken rarest first (fewest groups,
    then name); each unplaced group of a stratum, in a seeded random order, goes where the
    stratum lacks most groups against `targets` (ties: training, then testing, then validation);
    groups already placed beyond a validation or testing target are taken from training's target.
    Deterministic for a seed, whatever the mapping's order.
    """
    out = dict(forced or {})
    bad = {g: s for g, s in out.items() if s not in SUBSETS}
    if bad:
        raise ValueError(f"forced subsets must be one of {SUBSETS}, got {bad}")
    members: dict[str, list[str]] = defaultdict(list)
    for group in sorted(strata):
        for stratum in strata[group]:
            members[stratum].append(group)
    rng = np.random.default_rng([seed, 5417])
    tie_order = np.array([0, 2, 1])  # training, testing, validation
    for stratum in sorted(members, key=lambda s: (len(members[s]), s)):
        groups = members[stratum]
        have = np.zeros(3, np.int64)
        for g in groups:
            if g in out:
                have[SUBSETS.index(out[g])] += 1
        want = targets(len(groups), shares)
        want[0] -= np.maximum(have - want, 0)[1:].sum()  # groups already over a target come out of training's
        pending = [g for g in groups if g not in out]
        for i in rng.permutation(len(pending)):
            deficit = want - have
            best = tie_order[np.argmax(deficit[tie_order])]
            out[pending[i]] = SUBSETS[best]
            have[best] += 1
    return out


def recording_groups(files: Iterable[SoundFile]) -> dict[str, str]:
    """realsounds file -> source group: its series, or a block of the series for a class with
    fewer than `MIN_SERIES` series (blocks of consecutive take numbers, about `TARGET_BLOCKS`
    blocks per class; variants of one take stay in one block)."""
    files = tuple(files)
    series_of_class: dict[str, set[str]] = defaultdict(set)
    for f in files:
        series_of_class[f.class_name].add(f.source.series)
    takes: dict[str, set[int]] = defaultdict(set)  # series -> its take numbers
    for f in files:
        if f.source.take is not None:
            takes[f.source.series].add(f.source.take)
    block_size: dict[str, int] = {}
    for series in series_of_class.values():
        if len(series) >= MIN_SERIES:
            continue
        numbered = sum(len(takes[s]) for s in series)
        size = max(1, math.ceil(numbered / TARGET_BLOCKS))
        for s in series:
            block_size[s] = min(block_size.get(s, size), size)
    out = {}
    for f in files:
        s, take = f.source.series, f.source.take
        if s in block_size and take is not None:
            rank = sorted(takes[s]).index(take)
            out[f.file] = f"{s}#{rank // block_size[s]}"
        else:
            out[f.file] = s
    return out


def split_sounds(
    files: Iterable[SoundFile], shares: Shares, seed: int, held_out: Iterable[str] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """(file -> subset, file -> group) for recordings stratified by class; `held_out` classes'
    groups all go to testing."""
    files = tuple(files)
    group_of = recording_groups(files)
    held = set(held_out)
    strata: dict[str, set[str]] = defaultdict(set)
    for f in files:
        strata[group_of[f.file]].add(f.class_name)
    forced = {g: TESTING for g, classes in strata.items() if classes & held}
    subset_of_group = assign_groups({g: frozenset(c) for g, c in strata.items()}, shares, seed, forced)
    return {f.file: subset_of_group[group_of[f.file]] for f in files}, group_of


def split_pictures(
    pictures: Iterable[Picture], picture_map: PictureMap, shares: Shares, seed: int, held_out: Iterable[str] = ()
) -> dict[str, str]:
    """Picture file -> subset. Pictures of a sound class are stratified by that class (held-out
    classes' pictures all go to testing); the other pictures (neutral clutter and backdrops) by
    their top-level category (animals, food, town...)."""
    owner = picture_map.owner()
    held = set(held_out)
    strata = {p.file: frozenset([owner.get(p.file, "clutter:" + p.category.split("/", 1)[0])]) for p in pictures}
    forced = {f: TESTING for f, s in strata.items() if s & held}
    return assign_groups(strata, shares, seed + 1, forced)


def make_splits(
    catalog: Catalog,
    picture_map: PictureMap,
    shares: Shares,
    seed: int,
    held_out: tuple[str, ...] = HELD_OUT_CLASSES,
) -> Splits:
    """The splits of everything the benchmark uses (beds of `EXCLUDED_BED_KINDS` left out)."""
    unknown = sorted(set(held_out) - set(catalog.main_classes()))
    if unknown:
        raise ValueError(f"held-out classes {unknown} are not main classes of the catalog")
    sounds, groups = split_sounds(catalog.recordings + catalog.extras, shares, seed, held_out)
    beds = [b for b in catalog.beds if b.class_name not in EXCLUDED_BED_KINDS]
    bed_subsets, bed_groups = split_sounds(beds, shares, seed + 2)
    pictures = split_pictures(catalog.pictures, picture_map, shares, seed, held_out)
    return Splits(tuple(held_out), {**sounds, **bed_subsets}, pictures, {**groups, **bed_groups})
