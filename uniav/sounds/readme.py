"""The README and the licence note written next to a generated UniAV-Sounds folder."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from uniav.sounds.benchmark import Benchmark
from uniav.sounds.config import GENERATOR_VERSION
from uniav.sounds.plan import Role
from uniav.sounds.splits import EXCLUDED_BED_KINDS, SUBSETS

LICENSE_TERMS = (
    (
        "Tux Paint stamps (realpictures; some realsounds)",
        "GPL-2 or later, Bill Kendrick et al.",
        "every rendered clip shows Tux Paint pictures, so the clips as a whole are GPL-2: ship the GPL-2 "
        "text (realpictures/COPYRIGHT-tuxpaint-stamps-default.txt) with any copy",
    ),
    (
        "0 A.D. (Debian 0ad-data)",
        "CC-BY-SA-3.0, Wildfire Games",
        "credit Wildfire Games; clips mixing these sounds are adaptations: CC-BY-SA-3.0 (share-alike)",
    ),
    (
        "MegaGlest (Debian megaglest-data)",
        "CC-BY-SA-3.0, The Glest Team",
        "credit The Glest Team; share-alike",
    ),
    (
        "Kitchen20 (Freesound excerpts)",
        "research use only: each Freesound upload has its own Creative Commons licence, not recorded",
        "cite Kitchen20 (Moreaux et al. 2019) and the Freesound authors; the Freesound sound ids are in "
        "splits.json (the 'group' of each kitchen clip); check each id before redistributing",
    ),
    ("Widelands, Wesnoth, LinCity-NG (Debian)", "GPL-2+", "GPL"),
    ("Donate-a-cry corpus", "ODbL-1.0 database, DbCL-1.0 contents", "attribute the corpus"),
    ("Speech Commands background noise (wids_tutorial copy)", "CC-BY-4.0, Google", "credit Speech Commands"),
)


def _table(rows: list[tuple[str, ...]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def part_summary(bench: Benchmark, part: str) -> list[str]:
    """Counts of one part's clips per subset, events, isolated clips and unannotated items per role."""
    plans = bench.plans[part]
    subsets = Counter(p.subset for p in plans)
    roles = Counter(i.role for p in plans for i in p.items)
    segs = [e - s for p in plans for i in p.events for s, e in i.segments]
    minutes = sum(p.duration for p in plans) / 60
    out = [
        f"{len(plans)} clips ({minutes:.1f} min): " + ", ".join(f"{k} {v}" for k, v in sorted(subsets.items())),
        f"{roles[Role.EVENT]} annotated events, {len(segs)} segments"
        + (f" ({min(segs):.2f}-{max(segs):.2f} s, mean {sum(segs) / len(segs):.2f} s)" if segs else ""),
    ]
    isolated = sum(p.isolated for p in plans)
    if isolated:
        out.append(f"{isolated} isolated recordings")
    negatives = [r for r in (Role.NONTARGET, Role.PICTURE_ONLY, Role.SOUND_ONLY, Role.MISMATCH) if roles[r]]
    if negatives:
        out.append("unannotated: " + ", ".join(f"{roles[r]} {r.value}" for r in negatives))
    return out


def write_readme(root: Path, bench: Benchmark) -> None:
    config, vocabs = bench.config, bench.vocabularies
    env, sed, avel = config.envelope, config.sed_spec, config.avel_spec
    parts = []
    for part, title in (
        ("sed", "sed/annotations.json (SED, seen classes)"),
        ("sed_zeroshot", "sed/zeroshot/annotations.json (SED, held-out classes)"),
        ("avel", "avel/annotations.json (AVEL, seen classes)"),
        ("avel_zeroshot", "avel/zeroshot/annotations.json (AVEL, held-out classes)"),
    ):
        lines = part_summary(bench, part) + [f"{len(vocabs[part].labels)} classes: {', '.join(vocabs[part].labels)}"]
        parts.append(f"### {title}\n\n" + "\n".join(f"- {line}" for line in lines) + "\n")
    held = "\n".join(f"- {c}" for c in bench.splits.held_out)
    beds = "\n".join(f"- {kind}: {why}" for kind, why in sorted(EXCLUDED_BED_KINDS.items()))
    media = config.media
    text = f"""# UniAV-Sounds (seed {config.seed})

Sound event detection (SED) and audio-visual event localization (AVEL) clips made of real
recordings and real pictures, for training and testing UniAV with pretrained encoders. Made by
`uniav sounds` (generator `{GENERATOR_VERSION}`): same settings and seed, same bytes.

- realsounds: `{config.realsounds}` (clips.csv main classes, extra_clips.csv small classes,
  background.csv beds; Tux Paint spoken description sounds left out)
- realpictures: `{config.realpictures}` (Tux Paint stamps)
- media: H.264 + AAC MP4, {media.width} x {media.height}, {media.fps} fps, {media.sample_rate} Hz mono

## Splits

No source feeds two subsets ({", ".join(SUBSETS)}; shares of source groups and of clips
{", ".join(f"{x:.2f}" for x in config.shares.as_tuple())}): Kitchen20 clips are grouped by Freesound
sound id, Donate-a-cry clips by user, game sounds by series (numbered variants of one sound
together). No picture and no bed file is in two subsets. `splits.json` gives the subset and
source group of every file.

Held-out classes, never in training or validation in either task; their clips are in the
`zeroshot/` files (subset `testing_unseen`; evaluate with the held-out labels as vocabulary):

{held}

Beds left out because they contain target sounds:

{beds}

## Annotations

ActivityNet layout (`database` -> id -> subset, duration, fps, annotations [segment, label,
label_id]) with `classes.txt` beside each file (line i is label_id i). Onsets and offsets come
from each placed recording's energy envelope: its 30-ms level every 10 ms is active when within
{env.peak_range_db:g} dB of the recording's peak, above {env.floor_dbfs:g} dBFS and at most
{env.bed_margin_db:g} dB under the bed; gaps under {sed.bridge:g} s (SED) or {avel.bridge:g} s (AVEL)
are bridged and runs under 50 ms dropped. SNR is the RMS of an event's active part over the bed's RMS.

- SED: {sed.duration:g}-s soundscapes of {sed.events[0]}-{sed.events[1]} events, at most
  {sed.max_polyphony} at once, SNR {sed.snr_db[0]:g}-{sed.snr_db[1]:g} dB; {sed.isolated_share:.0%} isolated
  recordings; the picture is unrelated to the sounds (still colour, drifting scene, other pictures).
- AVEL: {avel.duration[0]:g}-{avel.duration[1]:g}-s clips; a source picture is drawn exactly while its
  sound is active. Unannotated negatives: a picture without its sound, a sound without its
  picture, a sound shown with another class's picture.

{chr(10).join(parts)}
## Licence

See `LICENSES`. Rendered clips made from the Tux Paint pictures are GPL-2; clips with 0 A.D. or
MegaGlest sounds are CC-BY-SA-3.0 adaptations (attribution, share-alike); Kitchen20 sounds are for
research use only (Freesound ids in `splits.json`).
"""
    (root / "README.md").write_text(text, encoding="utf-8")


def write_licenses(root: Path, bench: Benchmark) -> None:
    used = Counter(
        s.source.package.split(":", 1)[1] for s in bench.catalog.recordings + bench.catalog.extras + bench.catalog.beds
    )
    rows = [("source", "licence", "obligations")] + [tuple(r) for r in LICENSE_TERMS]
    text = f"""UniAV-Sounds: licence note
===========================

This folder is rendered from third-party material. It is not under one licence: each clip
inherits the terms of the recordings and pictures it mixes (listed per file in splits.json and
in realsounds/clips.csv, extra_clips.csv, background.csv and realpictures/pictures.csv).

{_table(rows)}

In short: the clips as distributed are GPL-2 (Tux Paint pictures are in every AVEL clip and in
many SED clips), clips holding 0 A.D. or MegaGlest sounds are also CC-BY-SA-3.0 adaptations
(credit Wildfire Games / The Glest Team, share alike), and Kitchen20 material is for research
use only. A model trained on this folder must list these terms in its model card.

Full licence and copyright texts (not copied here; ship them with any copy of this folder):
  {bench.config.realsounds / "LICENSES"}/
  {bench.config.realpictures / "COPYRIGHT-tuxpaint-stamps-default.txt"}

Source packages and repositories (files listed in the catalog):
""" + "".join(f"  {k}: {v} files\n" for k, v in sorted(used.items()))
    (root / "LICENSES").write_text(text, encoding="utf-8")
