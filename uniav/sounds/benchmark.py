"""What a planned UniAV-Sounds holds, before anything is rendered: the record shared by the
dataset writer, the README and the command."""

from __future__ import annotations

from dataclasses import dataclass

from uniav.sounds.catalog import Catalog
from uniav.sounds.config import SoundsConfig
from uniav.sounds.picture_map import PictureMap
from uniav.sounds.plan import ClipPlan
from uniav.sounds.pools import ClassList
from uniav.sounds.splits import Splits

PARTS = ("sed", "avel", "sed_zeroshot", "avel_zeroshot")


@dataclass(frozen=True)
class Benchmark:
    """Everything planned, nothing rendered: the sources, their splits, the four vocabularies
    (`PARTS`) and the clip plans of each part."""

    config: SoundsConfig
    catalog: Catalog
    picture_map: PictureMap
    splits: Splits
    vocabularies: dict[str, ClassList]
    plans: dict[str, tuple[ClipPlan, ...]]
