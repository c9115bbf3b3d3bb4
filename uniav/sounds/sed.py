"""SED clips: DESED-style soundscapes of real recordings, and isolated recordings.

A soundscape is `SedSpec.duration` s of a background bed with 1-4 events of the vocabulary's
classes (a class drawn uniformly, then one of its recordings), each at an SNR drawn from
`snr_db`, never more than `max_polyphony` sounds at once and never two of one class; sometimes one
unannotated small-class sound (a non-target event). A recording that does not fit in the room left
is cut at its quietest point near the end. An isolated clip is one recording at its own level,
with a little padding, on no bed or a faint one: what a user gets from a single real recording.

Annotated segments are the placed recording's active runs (`uniav.sounds.envelope`), gaps under
`bridge` s bridged, so a recording with long pauses gives several segments of one event. The
picture is unrelated to the sounds: a plain still frame, a drifting synthetic scene, or a scene
with pictures of other things (never of a class heard in the clip).
"""

from __future__ import annotations

import numpy as np

from uniav.sounds.catalog import SoundFile
from uniav.sounds.config import SedSpec
from uniav.sounds.context import MAX_TRIES, PlanContext, pick
from uniav.sounds.envelope import active_rms, self_active
from uniav.sounds.mixing import Placement, activity, draw_bed, fit_length, place, segments
from uniav.sounds.plan import Backdrop, Bed, ClipItem, ClipPlan, Role
from uniav.sounds.pools import ClassList, Pool, unannotated_label
from uniav.sounds.scenery import plain_backdrop, scene_backdrop, unrelated_pictures
from uniav.sounds.timeline import Timeline
from uniav.synth.vocab import Kind

MIN_ROOM = 0.5  # seconds left for an event that starts late and is cut


class SedPlanner:
    """Draws SED `ClipPlan`s for one vocabulary (see the module docstring)."""

    def __init__(self, ctx: PlanContext, spec: SedSpec, vocab: ClassList) -> None:
        if vocab.kind is not Kind.SED:
            raise ValueError("a SED planner needs a SED vocabulary")
        self.ctx = ctx
        self.spec = spec
        self.vocab = vocab

    def plan(self, video_id: str, subset: str, pool: Pool, rng: np.random.Generator) -> ClipPlan:
        """One clip of `pool`'s material; isolated with probability `isolated_share`."""
        classes = pool.event_classes(self.vocab)
        if not classes:
            raise ValueError(f"no recordings of the SED classes in the {pool.subset} material")
        if rng.uniform() < self.spec.isolated_share:
            return self.isolated(video_id, subset, pool, rng, classes)
        return self.soundscape(video_id, subset, pool, rng, classes)

    # ------------------------------------------------------------------ soundscapes

    def soundscape(
        self, video_id: str, subset: str, pool: Pool, rng: np.random.Generator, classes: tuple[str, ...]
    ) -> ClipPlan:
        ctx, spec = self.ctx, self.spec
        num_frames = int(round(spec.duration * ctx.media.fps))
        n = num_frames * ctx.media.samples_per_frame
        if not pool.beds:
            raise ValueError(f"no background beds in the {pool.subset} material")
        bed, bed_rms = draw_bed(rng, tuple(b.file for b in pool.beds), ctx.bank, n, rng.uniform(*spec.bed_dbfs))
        timeline = Timeline(ctx.sample_rate, ctx.media.fps, spec.max_polyphony)
        items: list[ClipItem] = []
        for _ in range(int(rng.integers(spec.events[0], spec.events[1] + 1))):
            cls = pick(rng, classes)
            item = self._sound_item(rng, Role.EVENT, cls, pool.events[cls], n, bed_rms, timeline)
            if item is not None:
                items.append(item)
        if not items:  # a soundscape has at least one event: the first class that fits
            for cls in classes:
                item = self._sound_item(rng, Role.EVENT, cls, pool.events[cls], n, bed_rms, timeline)
                if item is not None:
                    items.append(item)
                    break
        if not items:
            raise RuntimeError(f"{video_id}: no recording could be placed")
        if pool.extras and rng.uniform() < spec.nontarget_probability:
            cls = pick(rng, tuple(pool.extras))
            item = self._sound_item(rng, Role.NONTARGET, cls, pool.extras[cls], n, bed_rms, timeline)
            if item is not None:
                items.append(item)
        heard = {i.class_name for i in items}
        backdrop, scenery = self._visuals(rng, pool, heard, num_frames, still=False)
        return ClipPlan(
            video_id,
            Kind.SED,
            subset,
            num_frames,
            ctx.media.fps,
            ctx.sample_rate,
            backdrop,
            bed,
            scenery + tuple(items),
        )

    def _sound_item(
        self,
        rng: np.random.Generator,
        role: Role,
        cls: str,
        files: tuple[SoundFile, ...],
        n: int,
        bed_rms: float,
        timeline: Timeline,
    ) -> ClipItem | None:
        """One recording of `cls` placed without conflicts (None after MAX_TRIES tries)."""
        ctx, spec = self.ctx, self.spec
        sr = ctx.sample_rate
        for _ in range(MAX_TRIES):
            file = pick(rng, files).file
            length = len(ctx.bank.samples(file))
            if length <= n and rng.uniform() < spec.fit_probability:
                at = ctx.grid(rng.integers(0, n - length + 1))
            else:
                at = ctx.grid(rng.integers(0, max(n - int(MIN_ROOM * sr), 0) + 1))
            length = fit_length(ctx.bank, file, n - at)
            if not timeline.sound_ok(at, at + length, cls):
                continue
            placed = place(ctx.bank, ctx.envelope, file, at, length, bed_rms, float(rng.uniform(*spec.snr_db)))
            item = self._item(role, cls, placed, n)
            if item is None:
                continue
            timeline.add_sound(at, at + length, cls)
            return item
        return None

    def _item(self, role: Role, cls: str, placed: Placement | None, n: int) -> ClipItem | None:
        """The item of one placed recording, or None when nothing of it is long enough to annotate."""
        if placed is None:
            return None
        ctx = self.ctx
        mask = activity([placed], -(-n // ctx.hop))
        segs = segments(mask, ctx.sample_rate, self.spec.bridge, n / ctx.sample_rate)
        if not segs:
            return None
        annotated = role is Role.EVENT
        label = self.vocab.label(cls) if annotated else unannotated_label(cls)
        label_id = self.vocab.label_id(cls) if annotated else None
        return ClipItem(role, cls, label, label_id, segs, takes=(placed.take,))

    # ------------------------------------------------------------------ isolated recordings

    def isolated(
        self, video_id: str, subset: str, pool: Pool, rng: np.random.Generator, classes: tuple[str, ...]
    ) -> ClipPlan:
        ctx, spec = self.ctx, self.spec
        sr, fps = ctx.sample_rate, ctx.media.fps
        for _ in range(MAX_TRIES):
            cls = pick(rng, classes)
            file = pick(rng, pool.events[cls]).file
            x = ctx.bank.samples(file)
            before, after = (float(v) for v in rng.uniform(*spec.isolated_pad, size=2))
            num_frames = int(np.ceil(max(before + len(x) / sr + after, spec.isolated_min_duration) * fps))
            n = num_frames * ctx.media.samples_per_frame
            at = ctx.grid(before * sr)
            bed: Bed | None = None
            bed_rms = 0.0
            if pool.beds and rng.uniform() < spec.isolated_bed_probability:
                level = active_rms(x, self_active(ctx.bank.levels(file), ctx.envelope), sr)
                dbfs = 20.0 * np.log10(max(level, 1e-9)) - rng.uniform(*spec.isolated_snr_db)
                bed, bed_rms = draw_bed(rng, tuple(b.file for b in pool.beds), ctx.bank, n, dbfs)
            placed = place(ctx.bank, ctx.envelope, file, at, min(len(x), n - at), bed_rms, None)
            item = self._item(Role.EVENT, cls, placed, n)
            if item is None:
                continue
            backdrop, scenery = self._visuals(rng, pool, {cls}, num_frames, still=True)
            return ClipPlan(video_id, Kind.SED, subset, num_frames, fps, sr, backdrop, bed, scenery + (item,), True)
        raise RuntimeError(f"{video_id}: no recording of the {pool.subset} material gave an annotatable event")

    # ------------------------------------------------------------------ pictures

    def _visuals(
        self, rng: np.random.Generator, pool: Pool, heard: set[str], num_frames: int, still: bool
    ) -> tuple[Backdrop, tuple[ClipItem, ...]]:
        """Backdrop and unrelated pictures: plain / scene / scene with pictures by `visuals` shares
        (`still`: nothing moves, and a "pictures" clip shows one picture the whole time)."""
        ctx = self.ctx
        mode = int(rng.choice(3, p=self.spec.visuals.as_tuple()))
        if mode == 0:
            return plain_backdrop(rng), ()
        backdrop = scene_backdrop(rng, still=still)
        if mode == 1:
            return backdrop, ()
        files = list(pool.clutter) + [f for c, fs in pool.pictures.items() if c not in heard for f in fs]
        candidates = tuple(ctx.pictures[f] for f in sorted(files))
        count = 1 if still else int(rng.integers(self.spec.pictures[0], self.spec.pictures[1] + 1))
        duration = num_frames / ctx.media.fps
        return backdrop, unrelated_pictures(rng, candidates, count, duration, ctx.media, num_frames, still=still)
