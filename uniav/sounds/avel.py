"""AVEL clips: real sources seen and heard at once, among negatives only both modalities tell apart.

A clip is `AvelSpec.duration` s of a drifting synthetic scene (sometimes with a large unrelated
backdrop picture and small clutter pictures, all still) and a background bed. Each audio-visual
EVENT chains 1-3 recordings of one AVEL class; the class's picture is pasted into the scene and
drawn exactly in the frames where that sound is active (its envelope runs, gaps under `bridge` s
bridged), and those runs are the annotated segments. Unannotated negatives:

* PICTURE_ONLY: a source picture (an AVEL or distractor class) while no sound of its class plays;
* SOUND_ONLY: a recording while no picture of its class is seen;
* MISMATCH: a recording shown in sync with a picture of another class (`PictureMap.may_pair`).

A class's picture never appears within `margin` s of a sound of that class other than its own
event, so no negative is an audio-visual event in disguise.
"""

from __future__ import annotations

import numpy as np

from uniav.sounds.catalog import SoundFile
from uniav.sounds.config import AvelSpec
from uniav.sounds.context import MAX_TRIES, PlanContext, pick
from uniav.sounds.layout import drawn_size, frame_ranges, path_box, place_sprite
from uniav.sounds.mixing import Placement, activity, draw_bed, fit_length, place, segments
from uniav.sounds.plan import ClipItem, ClipPlan, Role, Sprite
from uniav.sounds.pools import ClassList, Pool, unannotated_label
from uniav.sounds.scenery import BACKDROP_SIZE, SCENERY_SIZE, inanimate, scene_backdrop, scenery_item
from uniav.sounds.timeline import Timeline
from uniav.synth.vocab import Kind

NEGATIVE_ROLES = (Role.PICTURE_ONLY, Role.SOUND_ONLY, Role.MISMATCH)
BACKDROP_MIN_PX = 150  # a backdrop picture must be this large on its short side (not blown up)


class AvelPlanner:
    """Draws AVEL `ClipPlan`s for one vocabulary (see the module docstring)."""

    def __init__(self, ctx: PlanContext, spec: AvelSpec, vocab: ClassList) -> None:
        if vocab.kind is not Kind.AVEL:
            raise ValueError("an AVEL planner needs an AVEL vocabulary")
        self.ctx = ctx
        self.spec = spec
        self.vocab = vocab

    def plan(
        self,
        video_id: str,
        subset: str,
        pool: Pool,
        rng: np.random.Generator,
        only: Role | None = None,
        duration: float | None = None,
    ) -> ClipPlan:
        """One clip of `pool`'s material. `only`: a clip holding exactly one item of that role (a
        probe); `duration`: a fixed length in seconds instead of one drawn from the spec."""
        ctx, spec = self.ctx, self.spec
        classes = pool.event_classes(self.vocab)
        if not classes:
            raise ValueError(f"no AVEL class has both recordings and pictures in the {pool.subset} material")
        if not pool.beds:
            raise ValueError(f"no background beds in the {pool.subset} material")
        fps = ctx.media.fps
        seconds = float(rng.uniform(*spec.duration)) if duration is None else duration
        num_frames = max(int(round(seconds * fps)), fps)
        n = num_frames * ctx.media.samples_per_frame
        bed, bed_rms = draw_bed(rng, tuple(b.file for b in pool.beds), ctx.bank, n, rng.uniform(*spec.bed_dbfs))
        backdrop = scene_backdrop(rng)
        items = list(self._scenery(rng, pool, num_frames))
        timeline = Timeline(ctx.sample_rate, fps, spec.max_polyphony, spec.max_on_screen, spec.margin)
        if only is None:
            roles = [Role.EVENT] * int(rng.integers(spec.events[0], spec.events[1] + 1))
            count = int(rng.integers(spec.negatives[0], spec.negatives[1] + 1))
            roles += [NEGATIVE_ROLES[int(k)] for k in rng.integers(len(NEGATIVE_ROLES), size=count)]
        else:
            roles = [only]
        placed: list[ClipItem] = []
        for role in roles:
            item = None
            for _ in range(MAX_TRIES):
                item = self._item(rng, role, pool, classes, n, num_frames, bed_rms, timeline, placed)
                if item is not None:
                    break
            if item is not None:
                placed.append(item)
        wanted = only or Role.EVENT
        if not any(p.role is wanted for p in placed):
            raise RuntimeError(f"{video_id}: no {wanted.value} item could be placed")
        placed.sort(key=lambda i: i.role is Role.EVENT)  # events drawn last: nothing hides them
        return ClipPlan(
            video_id, Kind.AVEL, subset, num_frames, fps, ctx.sample_rate, backdrop, bed, tuple(items + placed)
        )

    # ------------------------------------------------------------------ scenery

    def _scenery(self, rng: np.random.Generator, pool: Pool, num_frames: int) -> tuple[ClipItem, ...]:
        """A large still backdrop picture (sometimes) and a few small still clutter pictures, none
        of a living thing (a still gnu could pass for a silent cow)."""
        ctx, spec = self.ctx, self.spec
        duration = num_frames / ctx.media.fps
        pics = [p for p in (ctx.pictures[f] for f in pool.clutter) if inanimate(p)]
        out = []
        large = [p for p in pics if min(p.width, p.height) >= BACKDROP_MIN_PX]
        if large and rng.uniform() < spec.backdrop_probability:
            out.append(
                scenery_item(rng, pick(rng, large), ((0.0, duration),), BACKDROP_SIZE, 0.0, ctx.media, num_frames)
            )
        count = int(rng.integers(spec.clutter[0], spec.clutter[1] + 1))
        for _ in range(count if pics else 0):
            out.append(scenery_item(rng, pick(rng, pics), ((0.0, duration),), SCENERY_SIZE, 0.0, ctx.media, num_frames))
        return tuple(out)

    # ------------------------------------------------------------------ events and negatives

    def _item(
        self,
        rng: np.random.Generator,
        role: Role,
        pool: Pool,
        classes: tuple[str, ...],
        n: int,
        num_frames: int,
        bed_rms: float,
        timeline: Timeline,
        placed: list[ClipItem],
    ) -> ClipItem | None:
        """One try at placing an item of `role` (None when it conflicts with what is placed)."""
        pm = self.ctx.picture_map
        pictured = tuple(sorted(pool.pictures))
        if role is Role.EVENT:
            sound_cls = picture_cls = pick(rng, classes)
        elif role is Role.PICTURE_ONLY:
            sound_cls, picture_cls = None, pick(rng, pictured)
        else:
            sound_cls = pick(rng, classes) if rng.uniform() < 0.5 else pick(rng, tuple(sorted(pool.sounds)))
            picture_cls = None
            if role is Role.MISMATCH:
                options = tuple(c for c in pictured if pm.may_pair(sound_cls, c))
                if not options:
                    return None
                picture_cls = pick(rng, options)
        takes: tuple[Placement, ...] = ()
        if sound_cls is not None:
            takes = self._chain(rng, pool.sounds[sound_cls], n, bed_rms, 1 if role is not Role.EVENT else None)
            if not takes:
                return None
            a, b = takes[0].take.at, takes[-1].take.at + takes[-1].take.length
            if not timeline.sound_ok(a, b, sound_cls):
                return None
            mask = activity(takes, -(-n // self.ctx.hop))
            spans = segments(mask, self.ctx.sample_rate, self.spec.bridge, n / self.ctx.sample_rate)
        else:
            length = min(float(rng.uniform(*self.spec.negative_span)), n / self.ctx.sample_rate)
            start = float(rng.uniform(0.0, n / self.ctx.sample_rate - length))
            spans = ((round(start, 3), round(start + length, 3)),)
        if not spans:
            return None
        sprite = None
        if picture_cls is not None:
            frames = frame_ranges(spans, self.ctx.media.fps, num_frames)
            if not frames or not timeline.picture_ok(frames, picture_cls):
                return None
            sprite = self._sprite(rng, pool, picture_cls, frames, spans, placed)
        if sound_cls is not None:
            timeline.add_sound(a, b, sound_cls)
        if sprite is not None:
            timeline.add_picture(sprite.frames, picture_cls)
        annotated = role is Role.EVENT
        cls = sound_cls if sound_cls is not None else picture_cls
        return ClipItem(
            role,
            cls,
            self.vocab.label(cls) if annotated else unannotated_label(cls),
            self.vocab.label_id(cls) if annotated else None,
            spans,
            takes=tuple(p.take for p in takes),
            sprite=sprite,
            picture_class=picture_cls,
        )

    def _chain(
        self, rng: np.random.Generator, files: tuple[SoundFile, ...], n: int, bed_rms: float, takes: int | None
    ) -> tuple[Placement, ...]:
        """1 to `takes` (default: the spec's range) recordings of one class, `take_gap` apart, at one SNR."""
        ctx, spec = self.ctx, self.spec
        sr = ctx.sample_rate
        k = int(rng.integers(spec.takes[0], spec.takes[1] + 1)) if takes is None else takes
        chosen = [pick(rng, files).file for _ in range(k)]
        gaps = [ctx.grid(rng.uniform(*spec.take_gap) * sr) for _ in range(k)]
        lengths = [len(ctx.bank.samples(f)) for f in chosen]
        while len(chosen) > 1 and sum(lengths) + sum(gaps[1:]) > n:
            chosen, lengths, gaps = chosen[:-1], lengths[:-1], gaps[:-1]
        total = min(sum(lengths) + sum(gaps[1:]), n)
        at = ctx.grid(rng.integers(0, n - total + 1))
        snr = float(rng.uniform(*spec.snr_db))
        out = []
        for i, file in enumerate(chosen):
            if i:
                at += ctx.grid(lengths[i - 1] + gaps[i] + ctx.hop - 1)
            if at >= n:
                break
            p = place(ctx.bank, ctx.envelope, file, at, fit_length(ctx.bank, file, n - at), bed_rms, snr)
            if p is not None:
                out.append(p)
        return tuple(out)

    def _sprite(
        self,
        rng: np.random.Generator,
        pool: Pool,
        cls: str,
        frames: tuple[tuple[int, int], ...],
        spans: tuple[tuple[float, float], ...],
        placed: list[ClipItem],
    ) -> Sprite:
        """A picture of `cls` drawn in `frames`, placed away from the pictures shown at the same time."""
        ctx = self.ctx
        file = pick(rng, pool.pictures[cls])
        size = drawn_size(ctx.pictures[file], float(rng.uniform(*self.spec.picture_size)), ctx.media)
        avoid = [
            path_box(p.sprite)
            for p in placed
            if p.sprite is not None and any(a < d and c < b for a, b in frames for c, d in p.sprite.frames)
        ]
        t0, t1 = spans[0][0], spans[-1][1]
        return place_sprite(rng, file, size, frames, t0, t1, self.spec.max_speed, ctx.media, avoid, centred=True)
