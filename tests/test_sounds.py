"""UniAV-Sounds: splits by source, held-out classes, envelopes, media that match the annotations,
determinism, the picture map, the probes and the project's loaders.

The real recordings and pictures are read from ../shared (never copied). Decoded media are
compared with pure renders of the same plan: AAC at 64 kbit/s leaves an error about 20 dB under
the mix, so exact boundaries are checked on the pure render and the decoded audio by energy;
decoded H.264 frames are classified by which pure render (with or without a picture) they are
nearer to, which needs no threshold.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from uniav.commands import sounds as sounds_cmd
from uniav.sounds.config import AvelSpec, SedSpec, SoundsConfig
from uniav.sounds.dataset import UNSEEN_SUBSET, clip_subsets, generate, load_sources, plan_benchmark
from uniav.sounds.envelope import MIN_RUN_SECONDS, EnvelopeSpec, hop_samples, levels_db, placed_active, quiet_cut, runs
from uniav.sounds.layout import path_box
from uniav.sounds.media import SoundBank
from uniav.sounds.mixing import CUT_SEARCH, bed_signal, segments
from uniav.sounds.picture_map import load_picture_map
from uniav.sounds.plan import ClipItem, ClipPlan, Role, Sprite
from uniav.sounds.probes import ProbeKind, evaluation_recordings, plan_avel_probe, render_avel_probe
from uniav.sounds.render import composite, iter_frames, limiter_gain, mix_audio
from uniav.sounds.splits import (
    HELD_OUT_CLASSES,
    SUBSETS,
    TESTING,
    TRAINING,
    VALIDATION,
    Shares,
    assign_groups,
    targets,
)
from uniav.synth.vocab import Kind

SR = 16000
FPS = 16
SMALL = {"sed": 4, "avel": 2, "zeroshot_sed": 1, "zeroshot_avel": 1}
MANY = {"sed": 60, "avel": 30, "zeroshot_sed": 12, "zeroshot_avel": 12}
SHORT_AVEL = AvelSpec(duration=(3.0, 4.5))
SHORT_SED = SedSpec(duration=4.0)  # DESED uses 10 s; shorter keeps the tests fast
AAC_FRAME_S = 1024 / SR  # the decoded audio's time resolution


# ---------------------------------------------------------------- helpers


def config(root: Path, shared: Path, seed: int = 0, **counts) -> SoundsConfig:
    return SoundsConfig(
        root=root,
        seed=seed,
        realsounds=shared / "realsounds",
        realpictures=shared / "realpictures",
        avel_spec=SHORT_AVEL,
        sed_spec=SHORT_SED,
        **(counts or SMALL),
    )


def decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with av.open(str(path)) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    with av.open(str(path)) as c:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    return frames, audio


def without(plan: ClipPlan, item: ClipItem) -> ClipPlan:
    return replace(plan, items=tuple(i for i in plan.items if i is not item))


def only(plan: ClipPlan, item: ClipItem) -> ClipPlan:
    return replace(plan, items=(item,), bed=None)


def pure_frames(plan: ClipPlan, cfg: SoundsConfig) -> np.ndarray:
    return np.concatenate(list(iter_frames(plan, cfg.media, cfg.realpictures)))


def drawn_frames(
    plan: ClipPlan, item: ClipItem, decoded: np.ndarray, cfg: SoundsConfig, rendered: np.ndarray | None = None
) -> np.ndarray:
    """Frames where the decoded video shows the item's picture: nearer (inside its path box) to the
    pure render with the item (`rendered`, computed when not given) than to the one without it."""
    x0, y0, x1, y1 = (int(round(v)) for v in path_box(item.sprite))
    full = pure_frames(plan, cfg) if rendered is None else rendered
    with_it = full[:, y0:y1, x0:x1].astype(np.int32)
    without_it = pure_frames(without(plan, item), cfg)[:, y0:y1, x0:x1].astype(np.int32)
    seen = decoded[:, y0:y1, x0:x1].astype(np.int32)
    near_with = np.abs(seen - with_it).sum(axis=(1, 2, 3))
    near_without = np.abs(seen - without_it).sum(axis=(1, 2, 3))
    return np.flatnonzero(near_with < near_without)


def frames_of(ranges) -> np.ndarray:
    return np.concatenate([np.arange(a, b) for a, b in ranges]) if ranges else np.zeros(0, int)


def overlap_count(spans: list[tuple[float, float]]) -> int:
    """Most spans covering one instant."""
    if not spans:
        return 0
    starts = np.array([s for s, _ in spans])
    ends = np.array([e for _, e in spans])
    return int(((starts[:, None] <= starts[None, :]) & (ends[:, None] > starts[None, :])).sum(0).max())


def active_spans(mask: np.ndarray, bridge_s: float) -> list[tuple[float, float]]:
    """Runs of a 10-ms mask as seconds, gaps under `bridge_s` joined, runs under 50 ms dropped
    (written out here, independently of the package's own run finder)."""
    hop_s = hop_samples(SR) / SR
    spans: list[list[int]] = []
    for k in np.flatnonzero(mask):
        if spans and (k - spans[-1][1]) * hop_s < bridge_s:
            spans[-1][1] = k + 1
        else:
            spans.append([k, k + 1])
    return [(a * hop_s, b * hop_s) for a, b in spans if (b - a) * hop_s >= MIN_RUN_SECONDS - 1e-9]


def take_span(item: ClipItem) -> tuple[int, int]:
    return item.takes[0].at, item.takes[-1].at + item.takes[-1].length


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sounds_cmd.add_arguments(parser)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sources(shared_dir):
    return load_sources(config(Path("unused"), shared_dir))


@pytest.fixture(scope="module")
def many(shared_dir):
    """Plans only (nothing rendered) of a larger benchmark."""
    return plan_benchmark(config(Path("unused"), shared_dir, **MANY))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, shared_dir):
    cfg = config(tmp_path_factory.mktemp("sounds_a"), shared_dir)
    out = generate(cfg, workers=2)
    return cfg, out, plan_benchmark(cfg)


@pytest.fixture(scope="module")
def dataset_again(tmp_path_factory, shared_dir):
    cfg = config(tmp_path_factory.mktemp("sounds_b"), shared_dir)
    generate(cfg, workers=1)
    return cfg.root


def _count_args(counts: dict[str, int]) -> list[str]:
    return [a for k, v in counts.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def _folders(shared: Path) -> list[str]:
    return ["--realsounds", str(shared / "realsounds"), "--realpictures", str(shared / "realpictures")]


@pytest.fixture(scope="module")
def decoded(dataset):
    cfg, out, bench = dataset
    return {
        p.video_id: decode(out.videos[p.kind.value] / f"{p.video_id}.mp4")
        for plans in bench.plans.values()
        for p in plans
    }


# ---------------------------------------------------------------- determinism and layout


def test_same_seed_gives_same_files(dataset, dataset_again, monkeypatch):
    cfg, out, _ = dataset
    a, b = cfg.root, dataset_again
    names = [p.relative_to(a) for p in sorted(a.rglob("*")) if p.is_file()]
    assert sorted(names) == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert sum(n.suffix == ".mp4" for n in names) == sum(SMALL.values())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_other_seed_gives_other_data(shared_dir, dataset):
    _, _, bench = dataset
    other = plan_benchmark(config(Path("unused"), shared_dir, seed=1))
    for part in ("sed", "avel"):
        assert [p.annotation_record() for p in other.plans[part]] != [p.annotation_record() for p in bench.plans[part]]
    assert other.splits.sounds != bench.splits.sounds


def test_resume_keeps_existing_clips_and_refuses_other_settings(dataset, shared_dir):
    cfg, out, _ = dataset
    videos = sorted(cfg.root.rglob("*.mp4"))
    before = {p: p.stat().st_mtime_ns for p in videos}
    again = generate(cfg, workers=1)
    assert again.rendered == 0 and again.skipped == len(videos)
    assert {p: p.stat().st_mtime_ns for p in videos} == before
    with pytest.raises(ValueError, match="seed"):
        generate(replace(cfg, seed=5), workers=1)


def test_layout_and_project_loaders(dataset):
    from uniav.data.annotations import load_annotation_db
    from uniav.media.probe import probe_media

    cfg, out, bench = dataset
    for part, path in out.annotations.items():
        classes = (path.parent / "classes.txt").read_text().splitlines()
        assert tuple(classes) == bench.vocabularies[part].labels
        db = load_annotation_db(path, classes=classes)
        plans = bench.plans[part]
        assert set(db.videos) == {p.video_id for p in plans}
        expected = {UNSEEN_SUBSET} if "zeroshot" in part else {p.subset for p in plans}
        assert db.subsets() == expected
        for plan in plans:
            rec = db.videos[plan.video_id]
            assert rec.duration == pytest.approx(plan.duration) and rec.fps == FPS
            want = sorted((round(s, 3), round(e, 3), i.label) for i in plan.events for s, e in i.segments)
            assert sorted((a.start, a.end, a.label) for a in rec.annotations) == want
            info = probe_media(out.videos[plan.kind.value] / f"{plan.video_id}.mp4")
            assert (info.width, info.height, info.video_fps) == (cfg.media.width, cfg.media.height, FPS)
            assert info.audio_sample_rate == SR and info.duration == pytest.approx(plan.duration, abs=0.1)
    for name in ("README.md", "LICENSES", "sounds.json", "splits.json"):
        assert (cfg.root / name).stat().st_size > 0
    licences = (cfg.root / "LICENSES").read_text()
    assert "GPL-2" in licences and "CC-BY-SA-3.0" in licences and "research use" in licences


# ---------------------------------------------------------------- source groups and splits


def test_source_groups_join_takes_variants_and_uploads(sources, shared_dir):
    files = sources.catalog.recordings + sources.catalog.extras
    group = sources.splits.groups
    by_path = {f.source.path: f for f in files}

    def g(path_end: str) -> str:
        [f] = [f for p, f in by_path.items() if p.endswith(path_end)]
        return group[f.file]

    assert g("swordhit_12.ogg") == g("swordhit_12a.ogg") == g("swordhit_12b.ogg")
    assert g("mammals/pig_golden.ogg") == g("mammals/pig_golden2.ogg") != g("mammals/pig.ogg")
    assert g("bull_ack1.wav") == g("bull_ack4.wav")
    with (shared_dir / "realsounds" / "clips.csv").open(newline="") as fh:
        raw = {row["file"]: row["source"] for row in csv.DictReader(fh)}
    # Tux Paint description sounds are spoken words: all left out, nothing else
    spoken = {f for f, src in raw.items() if "tuxpaint" in src and re.search(r"_desc(_[a-z]+)?\.ogg$", src)}
    assert spoken and not spoken & {f.file for f in files}
    assert len(sources.catalog.recordings) == len(raw) - len(spoken)
    uploads = defaultdict(set)
    for f in files:
        upload = re.search(r"Freesound sound (\d+)", raw.get(f.file, ""))
        if upload:
            uploads[upload.group(1)].add(group[f.file])
        if "donateacry" in f.source.package:
            assert Path(f.source.path).name.lower().startswith(group[f.file].split(":", 1)[1])
    assert len(uploads) > 300 and all(len(g) == 1 for g in uploads.values())  # one group per Freesound upload
    assert len({next(iter(g)) for g in uploads.values()}) == len(uploads)
    # a class drawn from one series is cut into blocks of consecutive takes
    axe = [f for f in files if f.class_name == "axe_chopping_wood"]
    blocks = defaultdict(list)
    for f in axe:
        blocks[group[f.file]].append(f.source.take)
    assert len(blocks) >= 3
    ranges = sorted((min(t), max(t)) for t in blocks.values())
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_splits_are_disjoint_by_group_stratified_and_hold_out_classes(sources):
    files = sources.catalog.recordings + sources.catalog.extras + sources.catalog.beds
    splits = sources.splits
    subsets_of_group = defaultdict(set)
    for f in files:
        if f.file in splits.sounds:
            subsets_of_group[splits.groups[f.file]].add(splits.sounds[f.file])
    assert all(len(s) == 1 for s in subsets_of_group.values())
    held = set(splits.held_out)
    groups_of_class = defaultdict(lambda: defaultdict(set))
    for f in sources.catalog.recordings:
        groups_of_class[f.class_name][splits.sounds[f.file]].add(splits.groups[f.file])
    for cls, per_subset in groups_of_class.items():
        if cls in held:
            assert set(per_subset) == {TESTING}, cls
        elif sum(len(v) for v in per_subset.values()) >= 2:
            assert per_subset[TESTING] and per_subset[TRAINING], cls
    owner = sources.picture_map.owner()
    for picture, subset in splits.pictures.items():
        if owner.get(picture) in held:
            assert subset == TESTING
    assert set(splits.pictures) == {p.file for p in sources.catalog.pictures}


def test_assign_groups_meets_targets_whatever_the_order():
    rng = np.random.default_rng(0)
    strata = {f"g{i}": frozenset({f"c{int(rng.integers(5))}"}) for i in range(60)}
    shares = Shares()
    a = assign_groups(strata, shares, seed=3)
    b = assign_groups(dict(reversed(list(strata.items()))), shares, seed=3)
    assert a == b and a != assign_groups(strata, shares, seed=4)
    for c in {next(iter(s)) for s in strata.values()}:
        groups = [g for g, s in strata.items() if c in s]
        got = [sum(a[g] == name for g in groups) for name in SUBSETS]
        assert got == targets(len(groups), shares).tolist()
    forced = assign_groups(strata, shares, seed=3, forced={"g0": TESTING})
    assert forced["g0"] == TESTING
    with pytest.raises(ValueError, match="forced"):
        assign_groups(strata, shares, 0, forced={"g0": "holdout"})


def test_plans_never_mix_subsets_or_show_held_out_classes(many):
    held = set(HELD_OUT_CLASSES)
    splits = many.splits
    owner = many.picture_map.owner()
    used = defaultdict(set)
    for part, plans in many.plans.items():
        for plan in plans:
            for f in plan.files():
                subset = splits.pictures.get(f) or splits.sounds[f]
                key = splits.groups.get(f, f)
                assert subset == (TESTING if "zeroshot" in part else plan.subset), (plan.video_id, f)
                used[key].add(TESTING if "zeroshot" in part else plan.subset)
                if plan.subset in (TRAINING, VALIDATION):
                    cls = owner.get(f) or next((r.class_name for r in many.catalog.recordings if r.file == f), None)
                    assert cls not in held, (plan.video_id, f)
            for item in plan.items:
                if "zeroshot" in part and item.annotated:
                    assert item.class_name in held
                if "zeroshot" not in part:
                    assert item.class_name not in held and item.picture_class not in held
    assert all(len(s) == 1 for s in used.values())
    for part in ("sed", "avel"):
        assert not set(many.vocabularies[part].class_names) & held
        subsets = {p.subset for p in many.plans[part]}
        assert subsets == set(SUBSETS)
    zs = {i.class_name for p in many.plans["sed_zeroshot"] for i in p.events}
    assert zs and zs <= held
    assert set(many.vocabularies["avel_zeroshot"].class_names) == held & set(many.picture_map.avel_classes)


def test_clip_subsets_follow_the_shares_and_ignore_the_count():
    shares = Shares()
    first = clip_subsets(0, Kind.SED, 45, shares)
    assert clip_subsets(0, Kind.SED, 100, shares)[:45] == first
    block = clip_subsets(0, Kind.SED, 20, shares)
    assert [block.count(s) for s in SUBSETS] == [round(20 * x) for x in shares.as_tuple()]
    assert clip_subsets(1, Kind.SED, 20, shares) != block


# ---------------------------------------------------------------- envelopes


def test_envelope_segments_follow_the_signal():
    t = np.arange(int(3.0 * SR)) / SR
    bursts = [(0.2, 0.6), (0.75, 1.0), (1.8, 2.4)]  # the first two 0.15 s apart, the third 0.8 s later
    x = np.zeros_like(t)
    for a, b in bursts:
        x[(t >= a) & (t < b)] = 0.3 * np.sin(2 * np.pi * 440 * t[(t >= a) & (t < b)])
    lev = levels_db(x, SR)
    spec = EnvelopeSpec()
    mask = placed_active(lev, 1.0, 0.0, spec)
    hop_s = hop_samples(SR) / SR
    tol = 2 * hop_s  # the 30-ms smoothing spreads an edge by one hop each way
    apart = segments(mask, SR, 0.1, 3.0)
    assert len(apart) == 3
    assert all(abs(s - a) <= tol and abs(e - b) <= tol for (s, e), (a, b) in zip(apart, bursts, strict=True))
    bridged = segments(mask, SR, 0.3, 3.0)
    assert len(bridged) == 2 and abs(bridged[0][1] - bursts[1][1]) <= tol
    # a louder bed hides a decaying tail: the active part ends earlier as the bed rises
    decay = 0.5 * np.exp(-t / 0.4) * np.sin(2 * np.pi * 300 * t)
    ends = [runs(placed_active(levels_db(decay, SR), 1.0, bed, spec))[-1, 1] for bed in (0.0, 0.05, 0.1)]
    assert ends[0] > ends[1] > ends[2]
    lev = levels_db(decay + 0.2 * (t > 1.5) * np.sin(2 * np.pi * 200 * t), SR)
    cut = quiet_cut(lev, 50, 200)
    assert cut == 50 + int(np.argmin(lev[50:200]))


def test_composite_blends_only_inside_the_sprite():
    chunk = np.full((4, 20, 30, 3), 0.5, np.float32)
    rgb = np.full((5, 6, 3), 0.1, np.float32)
    alpha = np.full((5, 6, 1), 0.6, np.float32)
    sprite = Sprite("x.png", 6, 5, False, ((1, 3),), (2.0, 3.0), (10.0, 3.0), 0.0, 4 / FPS)
    before = chunk.copy()
    composite(chunk, 0, sprite, rgb, alpha, FPS)
    changed = np.argwhere((chunk != before).any(axis=3))
    assert set(changed[:, 0]) == {1, 2}
    for f in (1, 2):
        ys, xs = np.nonzero((chunk[f] != before[f]).any(axis=2))
        assert ys.min() == 3 and ys.max() == 7 and xs.max() - xs.min() == 5
        assert np.allclose(chunk[f, ys, xs], 0.5 * 0.4 + 0.1)


# ---------------------------------------------------------------- SED clips


def test_sed_plans_are_desed_like(many):
    spec = many.config.sed_spec
    plans = many.plans["sed"]
    isolated = [p for p in plans if p.isolated]
    scapes = [p for p in plans if not p.isolated]
    assert isolated and scapes
    several = 0
    bank = SoundBank(many.config.realsounds, SR)
    for plan in scapes:
        assert plan.duration == spec.duration and plan.bed is not None
        assert spec.events[0] <= len(plan.events) <= spec.events[1]
        sounds = [i for i in plan.items if i.takes]
        assert overlap_count([take_span(i) for i in sounds]) <= spec.max_polyphony
        assert overlap_count([s for i in plan.events for s in i.segments]) <= spec.max_polyphony
        classes = [i.class_name for i in sounds]
        for i, a in enumerate(sounds):  # two sounds of one class never overlap
            for b in sounds[i + 1 :]:
                if a.class_name == b.class_name:
                    (a0, a1), (b0, b1) = take_span(a), take_span(b)
                    assert a1 <= b0 or b1 <= a0
        assert len(classes) == len(sounds)
        for item in plan.events:
            several += len(item.segments) > 1
            take = item.takes[0]
            full = len(bank.samples(take.file))
            assert take.at + take.length <= plan.num_samples
            if take.length < full:  # cut: at the quietest frame of the search window, or at the clip's end
                hop = hop_samples(SR)
                room = plan.num_samples - take.at
                lev = bank.levels(take.file)
                assert take.length == room or take.length // hop == quiet_cut(
                    lev, int(CUT_SEARCH * room / hop), room // hop
                )
    assert several > 0, "no recording with pauses gave several segments"
    for plan in isolated:
        [item] = plan.events
        length = len(bank.samples(item.takes[0].file)) / SR
        assert plan.duration >= spec.isolated_min_duration
        assert plan.duration <= max(length + 2 * spec.isolated_pad[1], spec.isolated_min_duration) + 1 / FPS
        assert item.segments[0][0] >= item.takes[0].at / SR
    assert any(p.bed is None for p in isolated) or len(isolated) < 3
    roles = {i.role for p in plans for i in p.items}
    assert Role.NONTARGET in roles
    visuals = {
        ("plain" if p.backdrop.colour else "scene") + ("+pictures" if any(i.sprite for i in p.items) else "")
        for p in plans
    }
    assert {"plain", "scene", "scene+pictures"} <= visuals


def test_snr_is_the_event_rms_over_the_bed_rms(many):
    spec = many.config.sed_spec
    bank = SoundBank(many.config.realsounds, SR)
    checked = 0
    for plan in many.plans["sed"][:20]:
        if plan.isolated:
            continue
        bed = bed_signal(bank, plan.bed, plan.num_samples)
        bed_rms = np.sqrt(np.mean(bed**2))
        for item in plan.events:
            event = mix_audio(only(plan, item), bank)
            take = item.takes[0]
            own = levels_db(bank.samples(take.file), SR)
            active = own >= max(own.max() - many.config.envelope.peak_range_db, many.config.envelope.floor_dbfs)
            mask = np.repeat(active, hop_samples(SR))[: take.length]
            rms = np.sqrt(np.mean(event[take.at : take.at + take.length][mask] ** 2))
            snr = 20 * np.log10(rms / bed_rms)
            assert spec.snr_db[0] - 0.3 <= snr <= spec.snr_db[1] + 0.3, (plan.video_id, item.class_name, snr)
            checked += 1
    assert checked >= 10


def test_annotations_are_the_envelope_of_the_rendered_sound(many):
    """Render each annotated item alone (no bed): its active runs under the rule (thresholds from
    its source file's peak and the clip's bed RMS) are the annotated segments."""
    env = many.config.envelope
    bank = SoundBank(many.config.realsounds, SR)
    hop_s = hop_samples(SR) / SR
    checked = 0
    for part, bridge in (("sed", many.config.sed_spec.bridge), ("avel", many.config.avel_spec.bridge)):
        for plan in many.plans[part][:12]:
            bed_rms = np.sqrt(np.mean(bed_signal(bank, plan.bed, plan.num_samples) ** 2)) if plan.bed else 0.0
            for item in plan.events:
                lev = levels_db(mix_audio(only(plan, item), bank), SR)
                active = np.zeros(len(lev), bool)
                for take in item.takes:
                    own = levels_db(bank.samples(take.file), SR)
                    g = 20 * np.log10(take.gain)
                    floor = max(own.max() + g - env.peak_range_db, env.floor_dbfs + g)
                    if bed_rms > 0:
                        floor = max(floor, 20 * np.log10(bed_rms) - env.bed_margin_db)
                    a, b = take.at // hop_samples(SR), (take.at + take.length) // hop_samples(SR)
                    active[a:b] |= lev[a:b] >= floor
                measured = [(a, min(b, plan.duration)) for a, b in active_spans(active, bridge)]
                assert len(measured) == len(item.segments), (plan.video_id, item.class_name, measured, item.segments)
                got, want = np.asarray(measured), np.asarray(item.segments)
                assert np.abs(got - want).max() <= 3 * hop_s, (plan.video_id, item.class_name, measured, item.segments)
                checked += 1
    assert checked >= 30


def test_decoded_sed_audio_is_loud_inside_the_segments(dataset, decoded):
    """In the decoded clips, the residual after removing everything else (pure render) is the
    event: its energy inside the annotated segments is well above the codec error where only the
    bed plays (6 dB at least; the rule keeps only parts at most 10 dB under the bed, and the
    codec error is about 20 dB under the mix)."""
    cfg, _, bench = dataset
    bank = SoundBank(cfg.realsounds, SR)
    checked = 0
    for plan in bench.plans["sed"] + bench.plans["sed_zeroshot"]:
        audio = decoded[plan.video_id][1][: plan.num_samples].astype(np.float64)
        scale = limiter_gain(mix_audio(plan, bank))
        t = np.arange(plan.num_samples) / SR
        for item in plan.events:
            residual = audio - scale * mix_audio(without(plan, item), bank)
            inside = np.zeros(plan.num_samples, bool)
            for s, e in item.segments:
                inside |= (
                    (t >= s + AAC_FRAME_S) & (t < e - AAC_FRAME_S) if e - s > 3 * AAC_FRAME_S else (t >= s) & (t < e)
                )
            away = np.ones(plan.num_samples, bool)  # bed only: no sound item nearby
            for other in plan.items:
                if other.takes:
                    a, b = take_span(other)
                    away &= (t < a / SR - AAC_FRAME_S) | (t >= b / SR + AAC_FRAME_S)
            if away.sum() < SR // 4:
                continue
            ratio = np.mean(residual[inside] ** 2) / np.mean(residual[away] ** 2)
            assert ratio > 4.0, (plan.video_id, item.class_name, ratio)
            checked += 1
    assert checked >= 3


# ---------------------------------------------------------------- AVEL clips


def test_avel_pictures_are_drawn_exactly_while_the_sound_is_active(dataset, decoded):
    cfg, _, bench = dataset
    checked = 0
    for plan in bench.plans["avel"] + bench.plans["avel_zeroshot"]:
        frames = decoded[plan.video_id][0]
        assert len(frames) == plan.num_frames
        rendered = pure_frames(plan, cfg)
        for item in plan.events:
            planned = frames_of(item.sprite.frames)
            seen = drawn_frames(plan, item, frames, cfg, rendered)
            assert set(seen) == set(planned), (plan.video_id, item.class_name)
            centres = (planned + 0.5) / FPS
            inside = np.array([any(s - 1 / FPS <= c < e + 1 / FPS for s, e in item.segments) for c in centres])
            assert inside.all()
            for s, e in item.segments:  # every segment is covered (one frame of slack at each end)
                covered = planned[(centres >= s) & (centres < e)]
                assert len(covered) >= max(int(round((e - s) * FPS)) - 2, 1) or e - s < 2 / FPS
            checked += 1
    assert checked >= 3


def test_avel_negatives_exist_are_unannotated_and_only_both_halves_tell_them_apart(many):
    pm = many.picture_map
    roles = defaultdict(int)
    margin = many.config.avel_spec.margin
    for plan in many.plans["avel"] + many.plans["avel_zeroshot"]:
        record = plan.annotation_record()
        assert len(record["annotations"]) == sum(len(i.segments) for i in plan.events)
        assert {a["label"] for a in record["annotations"]} <= {i.label for i in plan.events}
        pictures = [
            (i.picture_class, a / FPS, b / FPS)
            for i in plan.items
            if i.sprite and i.picture_class
            for a, b in i.sprite.frames
        ]
        sounds = [(i.class_name, *(np.array(take_span(i)) / SR)) for i in plan.items if i.takes]
        for item in plan.items:
            roles[item.role] += 1
            if item.role is Role.EVENT:
                assert item.picture_class == item.class_name and item.takes and item.sprite
            elif item.role is not Role.SCENERY:
                assert item.label_id is None
            if item.role is Role.PICTURE_ONLY:
                assert item.sprite and not item.takes
            if item.role is Role.SOUND_ONLY:
                assert item.takes and item.sprite is None
            if item.role is Role.MISMATCH:
                assert item.takes and item.sprite and pm.may_pair(item.class_name, item.picture_class)
                assert item.sprite.frames and item.segments
            if item.role in (Role.PICTURE_ONLY, Role.MISMATCH):  # no sound of the shown class near it
                for a, b in item.sprite.frames:
                    for cls, s, e in sounds:
                        assert cls != item.picture_class or e <= a / FPS - margin or s >= b / FPS + margin
            if item.role in (Role.SOUND_ONLY, Role.MISMATCH):  # no picture of the heard class near it
                s, e = np.array(take_span(item)) / SR
                for cls, a, b in pictures:
                    assert cls != item.class_name or b <= s - margin or a >= e + margin
    for role in (Role.EVENT, Role.PICTURE_ONLY, Role.SOUND_ONLY, Role.MISMATCH, Role.SCENERY):
        assert roles[role] > 0, role


def test_avel_probes_render_what_they_claim(tmp_path, shared_dir):
    cfg = config(tmp_path, shared_dir)
    truths = {kind: render_avel_probe(cfg, kind, tmp_path / f"{kind.name}.mp4", duration=3.0) for kind in ProbeKind}
    again, _ = plan_avel_probe(cfg, ProbeKind.AV_EVENT, duration=3.0)
    assert again == truths[ProbeKind.AV_EVENT].plan
    av_event = truths[ProbeKind.AV_EVENT]
    assert av_event.annotations and [a[:2] for a in av_event.annotations] == list(av_event.sound_segments)
    assert av_event.sound_class == av_event.picture_class
    frames, _ = decode(av_event.path)
    [item] = av_event.plan.events
    assert set(drawn_frames(av_event.plan, item, frames, cfg)) == set(frames_of(item.sprite.frames))
    for kind in (ProbeKind.PICTURE_ONLY, ProbeKind.SOUND_ONLY, ProbeKind.MISMATCH):
        truth = truths[kind]
        assert truth.annotations == () and not truth.plan.events
        assert (truth.sound_class is None) == (kind is ProbeKind.PICTURE_ONLY)
        assert (truth.picture_class is None) == (kind is ProbeKind.SOUND_ONLY)
        assert truth.path.is_file() and truth.duration == 3.0
    mismatch = truths[ProbeKind.MISMATCH]
    assert mismatch.sound_class != mismatch.picture_class
    zs = render_avel_probe(cfg, ProbeKind.AV_EVENT, tmp_path / "zs.mp4", duration=3.0, zeroshot=True)
    assert zs.sound_class in HELD_OUT_CLASSES


def test_testing_recordings_are_the_test_split(shared_dir, sources):
    cfg = config(Path("unused"), shared_dir)
    recordings = evaluation_recordings(cfg)
    assert recordings == tuple(sorted(recordings, key=lambda r: (r.class_name, r.file)))
    assert {r.held_out for r in recordings} == {True, False}
    assert {r.class_name for r in recordings if r.held_out} == set(HELD_OUT_CLASSES)
    train_groups = {sources.splits.groups[f] for f, s in sources.splits.sounds.items() if s != TESTING}
    for r in recordings:
        assert r.path.is_file() and sources.splits.sounds[r.file] == TESTING and r.group not in train_groups
    seen = evaluation_recordings(cfg, held_out=False)
    assert seen and not any(r.held_out for r in seen)


# ---------------------------------------------------------------- the picture map


def test_picture_map_names_existing_classes_and_pictures(sources, shared_dir, tmp_path):
    pm = sources.picture_map
    catalog = sources.catalog
    files = {p.file for p in catalog.pictures}
    for table in (pm.classes, pm.distractors):
        for pictures in table.values():
            assert all(p in files and (shared_dir / "realpictures" / p).is_file() for p in pictures)
    assert set(pm.classes) <= set(catalog.main_classes())
    assert set(pm.distractors) <= {r.class_name for r in catalog.extras}
    owners = [p for t in (pm.classes, pm.distractors) for ps in t.values() for p in ps]
    assert len(owners) == len(set(owners))
    assert not pm.may_pair("chicken_clucking", "rooster_crowing") and pm.may_pair("cow_mooing", "pig_grunting")
    good = Path("uniav/sounds/picture_map.toml").read_text()
    for broken, message in (
        (good + '\n[classes.unicorn_singing]\npictures = ["images/animals/mammals/pig.png"]\n', "not a class"),
        (good.replace("images/animals/mammals/pig.png", "images/nope.png"), "not in pictures.csv"),
        (good + '\n[classes.juicer]\npictures = ["images/animals/mammals/pig.png"]\n', "already the picture"),
        (good + "\n[colours]\nx = 1\n", "unknown table"),
    ):
        path = tmp_path / "map.toml"
        path.write_text(broken)
        with pytest.raises(ValueError, match=message):
            load_picture_map(catalog, path)


# ---------------------------------------------------------------- command line and errors


def test_command_line_makes_a_dataset_and_errors_are_clear(tmp_path, shared_dir):
    out = tmp_path / "cli"
    counts = {"sed": 1, "avel": 0, "zeroshot_sed": 0, "zeroshot_avel": 0}
    assert (
        sounds_cmd.run(_parse([str(out), "--quiet", "--seed", "2", *_count_args(counts), *_folders(shared_dir)])) == 0
    )
    assert [p.name for p in (out / "sed" / "videos").iterdir()] == ["rs_sed_00000.mp4"]
    assert json.loads((out / "sounds.json").read_text())["seed"] == 2
    args = _parse([str(tmp_path / "out"), "--seed", "4", "--sed", "3", "--avel", "0", *_folders(shared_dir)])
    cfg = sounds_cmd.config_from_args(args)
    assert (cfg.seed, cfg.sed, cfg.avel) == (4, 3, 0) and cfg.realsounds == shared_dir / "realsounds"
    with pytest.raises(FileNotFoundError, match="realsounds"):
        load_sources(replace(cfg, realsounds=tmp_path / "missing"))
    with pytest.raises(ValueError, match="nothing to make"):
        SoundsConfig(root=tmp_path, sed=0, avel=0, zeroshot_sed=0, zeroshot_avel=0)
    with pytest.raises(ValueError, match="--sed"):
        SoundsConfig(root=tmp_path, sed=-1)
    with pytest.raises(ValueError, match="--workers"):
        generate(cfg, workers=0)
    from uniav.cli import COMMANDS

    assert sounds_cmd in COMMANDS


def test_render_refuses_plans_that_do_not_fit_the_media(many):
    plan = next(p for p in many.plans["avel"] if p.events)
    item = plan.events[0]
    outside = replace(item, sprite=replace(item.sprite, end=(many.config.media.width, 0.0)))
    bad = replace(plan, items=tuple(outside if i is item else i for i in plan.items))
    with pytest.raises(ValueError, match="leaves the 224x224 frame"):
        next(iter_frames(bad, many.config.media, many.config.realpictures))
    with pytest.raises(ValueError, match="planned at 16 fps"):
        next(iter_frames(plan, replace(many.config.media, fps=25, sample_rate=16000), many.config.realpictures))


def test_default_recipe_makes_desed_and_unav_lengths(shared_dir):
    cfg = SoundsConfig(
        root=Path("unused"),
        sed=24,
        avel=6,
        zeroshot_sed=2,
        zeroshot_avel=2,
        realsounds=shared_dir / "realsounds",
        realpictures=shared_dir / "realpictures",
    )
    bench = plan_benchmark(cfg)
    assert (cfg.media.width, cfg.media.height, cfg.media.fps, cfg.media.sample_rate) == (224, 224, FPS, SR)
    scapes = [p for p in bench.plans["sed"] if not p.isolated]
    assert scapes and all(p.duration == 10.0 for p in scapes)
    lo, hi = cfg.avel_spec.duration
    assert all(lo - 1 / FPS <= p.duration <= hi + 1 / FPS for p in bench.plans["avel"] + bench.plans["avel_zeroshot"])
