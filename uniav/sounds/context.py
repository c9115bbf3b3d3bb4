"""What every planner needs: the media format, the activity rule, the decoded recordings, the
pictures' sizes and the picture map; and the per-clip random generator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uniav.sounds.catalog import Picture
from uniav.sounds.envelope import EnvelopeSpec, hop_samples
from uniav.sounds.media import SoundBank
from uniav.sounds.picture_map import PictureMap
from uniav.synth.config import MediaSpec
from uniav.synth.vocab import Kind

KIND_CODE = {Kind.AVEL: 12, Kind.SED: 13}  # distinct from UniAV-Synth's codes
MAX_TRIES = 25  # placements tried before an item is given up


@dataclass(frozen=True, eq=False)
class PlanContext:
    media: MediaSpec
    envelope: EnvelopeSpec
    bank: SoundBank
    pictures: dict[str, Picture]
    picture_map: PictureMap

    @property
    def sample_rate(self) -> int:
        return self.media.sample_rate

    @property
    def hop(self) -> int:
        return hop_samples(self.media.sample_rate)

    def grid(self, samples: float) -> int:
        """`samples` rounded down to the 10-ms envelope grid."""
        return int(samples // self.hop) * self.hop


def clip_rng(seed: int, kind: Kind, index: int, zeroshot: bool) -> np.random.Generator:
    """The generator of one clip: a function of (seed, sub-dataset, index, zero-shot) only, so a
    clip does not depend on how many clips are made."""
    return np.random.default_rng([seed, KIND_CODE[kind], index, int(zeroshot)])


def pick(rng: np.random.Generator, options):
    """One element of a non-empty sequence, uniformly."""
    return options[int(rng.integers(len(options)))]
