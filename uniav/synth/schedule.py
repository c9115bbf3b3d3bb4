"""Event scheduling: draw the plan of one video of a sub-dataset from its seed.

Each video has its own `numpy.random.Generator` seeded by (seed, sub-dataset, index), so plans
do not depend on how many videos are made or in which order. Objects sit in the cells of a 2 x 2
layout of the frame ("slots"), one object per slot at a time; sounds of the same timbre never
overlap. Lengths of events are drawn log-uniformly so that they spread over the model's pyramid
levels; rhythmic events get their beats here, shared by their picture and their sound.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from uniav.synth.canvas import Box
from uniav.synth.config import SUBSETS, MediaSpec, SynthConfig
from uniav.synth.plan import Ambience, Backdrop, PlannedEvent, Scene, SoundEvent, VideoPlan, VisualEvent
from uniav.synth.recordings import Recording, loud_span
from uniav.synth.sounds import tail_seconds
from uniav.synth.vocab import CLASSES, BeatRule, Kind, SynthClass, Timbre, VisualPattern, recording_class

KIND_CODE = {Kind.TAL: 1, Kind.AVEL: 2, Kind.SED: 3}
MAX_TRIES = 30
SLOT_GAP = 0.3  # seconds between two objects using the same slot
PREFERRED_SLOT_PROBABILITY = 0.6

RATES: dict[VisualPattern, tuple[float, float]] = {
    VisualPattern.SPIN: (0.25, 0.6),
    VisualPattern.SLIDE: (0.3, 0.7),
    VisualPattern.BLINK: (2.0, 4.0),
    VisualPattern.INFLATE: (0.5, 1.0),
    VisualPattern.SWING: (0.5, 1.0),
    VisualPattern.ORBIT: (0.3, 0.7),
    VisualPattern.WAVE: (1.0, 2.5),
    VisualPattern.ROLL: (0.2, 0.45),
    VisualPattern.BUBBLES: (0.3, 0.6),
    VisualPattern.WANDER: (0.03, 0.1),
}
"""Speed of the patterns that are not driven by beats (cycles per second)."""

SIREN_PERIOD = (1.0, 3.0)  # seconds per sweep, shared by the siren's light and sound


@dataclass(frozen=True)
class SynthVocabulary:
    """The classes of one sub-dataset, in label-id order, and the recordings of SED classes."""

    kind: Kind
    classes: tuple[SynthClass, ...]
    recordings: dict[str, tuple[Recording, ...]]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.classes)


def vocabulary(kind: Kind, recordings: dict[str, tuple[Recording, ...]] | None = None) -> SynthVocabulary:
    """The classes of `kind`; for SED, recording labels not among the synthetic ones are appended (sorted)."""
    classes = CLASSES[kind]
    bank = dict(recordings or {}) if kind is Kind.SED else {}
    known = {c.label for c in classes}
    extra = []
    for label in sorted(bank):
        if label not in known:
            bands = np.array([r.band for r in bank[label]])
            extra.append(recording_class(label, (float(bands[:, 0].min()), float(bands[:, 1].max()))))
    return SynthVocabulary(kind, classes + tuple(extra), bank)


def slots(media: MediaSpec) -> tuple[Box, ...]:
    """The 2 x 2 layout of object cells: top-left, top-right, bottom-left, bottom-right."""
    w, h = media.width // 2, media.height // 2
    return tuple(Box(x, y, x + w, y + h) for y in (0, h) for x in (0, w))


def video_rng(seed: int, kind: Kind, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, KIND_CODE[kind], index])


def subsets(seed: int, kind: Kind, count: int, split: tuple[float, float, float]) -> list[str]:
    """Subset of each of `count` videos: shares of `split`, shuffled by the seed (validation and
    testing get at least one video each once there are three or more)."""
    share = np.asarray(split, np.float64) / sum(split)
    n_val, n_test = (int(round(count * s)) for s in share[1:])
    if count >= 3:
        n_val = max(n_val, 1 if share[1] > 0 else 0)
        n_test = max(n_test, 1 if share[2] > 0 else 0)
    n_train = max(count - n_val - n_test, 0)
    names = [SUBSETS[0]] * n_train + [SUBSETS[1]] * n_val + [SUBSETS[2]] * n_test
    order = np.random.default_rng([seed, KIND_CODE[kind], 2**31 - 1]).permutation(count)
    return [names[i] for i in order]


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    lo, hi = min(lo, hi), max(lo, hi)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def make_beats(rule: BeatRule, start: float, last: float, rng: np.random.Generator) -> tuple[float, ...]:
    """Beat instants from `start` (the first beat) up to at most `last`, following `rule`."""
    period = rng.uniform(*rule.period)
    if last <= start:
        return (round(start, 4),)
    span = last - start
    gap_lo = min(period, rule.group_gap[0]) if rule.group[1] > 1 else period
    count = int(span / (gap_lo * (1 - rule.jitter))) + 2
    inner = period * (1.0 + rule.jitter * rng.uniform(-1.0, 1.0, size=count))
    if rule.group[1] > 1:
        sizes = rng.integers(rule.group[0], rule.group[1] + 1, size=count)
        in_group = (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))[:count]
        gaps = rng.uniform(*rule.group_gap, size=count)
        inner = np.where(in_group[1:] == 0, gaps[: count - 1], inner[: count - 1])
    times = start + np.concatenate([[0.0], np.cumsum(inner)])
    return tuple(float(round(t, 4)) for t in times[times <= last])


@dataclass
class Board:
    """What is already placed in a video: slot occupancy and sounds, to keep new events apart."""

    slot_busy: list[list[tuple[float, float]]]
    sounds: list[tuple[float, float, Timbre, str]]

    def slot_free(self, slot: int, a: float, b: float) -> bool:
        return all(b + SLOT_GAP <= s or a >= e + SLOT_GAP for s, e in self.slot_busy[slot])

    def sound_ok(self, a: float, b: float, timbre: Timbre, label: str, max_polyphony: int) -> bool:
        overlapping = [(s, e, tb, lab) for s, e, tb, lab in self.sounds if a < e and s < b]
        if any(tb is timbre and (timbre is not Timbre.RECORDING or lab == label) for _, _, tb, lab in overlapping):
            return False
        if len(overlapping) < max_polyphony:
            return True
        # Polyphony at any instant of [a, b) (checked at the starts of the overlapping sounds and at a).
        probes = np.array([a] + [s for s, *_ in overlapping if s > a])
        counts = sum(((probes >= s) & (probes < e)).astype(int) for s, e, *_ in overlapping)
        return int(np.max(counts)) < max_polyphony


def random_scene(rng: np.random.Generator, drift_px_s: float, jitter_px: float) -> Scene:
    """A random backdrop drifting at up to `drift_px_s` px/s, with camera shake of about `jitter_px`
    (also used by `uniav.sounds`)."""
    angle = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(0.2, 1.0) * drift_px_s
    hue_a = float(rng.uniform(0, 1))
    return Scene(
        style=list(Backdrop)[int(rng.integers(len(Backdrop)))],
        texture_seed=int(rng.integers(2**31)),
        hue_a=hue_a,
        hue_b=hue_a + float(rng.uniform(0.05, 0.3)),
        saturation=float(rng.uniform(0.1, 0.35)),
        brightness=float(rng.uniform(0.3, 0.55)),
        contrast=float(rng.uniform(0.15, 0.3)),
        roughness=float(rng.uniform(1.5, 3.0)),
        scale=float(rng.uniform(15.0, 60.0)),
        stretch=float(rng.uniform(0.6, 1.6)),
        drift=(float(speed * np.cos(angle)), float(speed * np.sin(angle))),
        jitter_px=float(jitter_px * rng.uniform(0.5, 1.0)),
        jitter_seed=int(rng.integers(2**31)),
    )


def _ambience(rng: np.random.Generator, kind: Kind, duration: float) -> Ambience:
    seed = int(rng.integers(2**31))
    tilt = float(rng.uniform(-4.5, -1.5))
    if kind is Kind.TAL:
        return Ambience(
            seed,
            float(rng.uniform(0.005, 0.012)),
            tilt,
            music_rms=float(rng.uniform(0.03, 0.08)),
            music_notes=int(duration * rng.uniform(0.3, 1.0)),
        )
    return Ambience(seed, float(rng.uniform(0.006, 0.015)), tilt)


def _visual(
    rng: np.random.Generator,
    cls: SynthClass,
    slot: Box,
    start: float,
    end: float,
    shown: tuple[float, float],
    beats: tuple[float, ...],
    hold: float,
    rate: float,
) -> VisualEvent:
    assert cls.visual is not None
    return VisualEvent(
        pattern=cls.visual,
        slot=slot,
        start=start,
        end=end,
        show_from=shown[0],
        show_to=shown[1],
        hue=float((cls.hue + rng.uniform(-0.04, 0.04)) % 1.0),
        sat=float(rng.uniform(0.6, 0.95)),
        val=float(rng.uniform(0.75, 1.0)),
        size=float(rng.uniform(0.9, 1.3)),
        rate=rate,
        amp=float(rng.uniform(0.6, 1.0)),
        hold=hold,
        beats=beats,
        seed=int(rng.integers(2**31)),
    )


def _timing(
    rng: np.random.Generator, cls: SynthClass, start: float, length: float, audible: bool
) -> tuple[float, tuple[float, ...], float, float]:
    """End, beats, hold and rate of an event of `cls` starting at `start` for about `length` seconds."""
    hold = 0.0
    rate = 1.0
    tail = 0.0
    if cls.timbre is Timbre.BEEP:
        hold = float(rng.uniform(0.12, 0.2))
    if cls.visual is VisualPattern.SIREN or cls.timbre is Timbre.SIREN:
        rate = float(rng.uniform(*SIREN_PERIOD))
    elif cls.visual in RATES:
        rate = float(rng.uniform(*RATES[cls.visual]))
    if cls.beats is None:
        return start + length, (), hold, rate
    if cls.timbre is Timbre.ALARM:
        beats = make_beats(cls.beats, start, start + length, rng)
        hold = 0.5 * (beats[1] - beats[0]) if len(beats) > 1 else length
        beats = tuple(b for b in beats if b + hold <= start + length + 1e-6) or (start,)
        hold = min(hold, length)
        return beats[-1] + hold, beats, hold, rate
    if audible and cls.timbre is not None:
        tail = tail_seconds(cls.timbre, hold)
    beats = make_beats(cls.beats, start, start + max(length - tail, 0.0), rng)
    return beats[-1] + tail, beats, hold, rate


class Planner:
    """Draws `VideoPlan`s of one sub-dataset (see the module docstring)."""

    def __init__(self, config: SynthConfig, kind: Kind, vocab: SynthVocabulary) -> None:
        self.config = config
        self.kind = kind
        self.spec = config.spec(kind)
        self.media = config.media
        self.vocab = vocab
        self.slots = slots(config.media)

    # ------------------------------------------------------------------ public

    def plan(self, index: int, subset: str) -> VideoPlan:
        """The plan of video `index` (its id is `{kind}_{index:05d}`), drawn from (seed, kind, index) alone."""
        rng = video_rng(self.config.seed, self.kind, index)
        fps = self.media.fps
        lo, hi = self.spec.duration
        num_frames = max(int(round(rng.uniform(lo, hi) * fps)), fps)
        duration = num_frames / fps
        scene = random_scene(rng, self.spec.drift_px_s, self.spec.jitter_px)
        ambience = _ambience(rng, self.kind, duration)
        board = Board([[] for _ in self.slots], [])
        events: list[PlannedEvent] = []
        for _ in range(int(rng.integers(self.spec.scenery[0], self.spec.scenery[1] + 1))):
            events.append(self._scenery(rng, duration))
        n_events = int(rng.integers(self.spec.events[0], self.spec.events[1] + 1))
        for _ in range(n_events):
            ev = self._event(rng, board, duration, ambience.noise_rms, annotated=True)
            if ev is not None:
                events.append(ev)
        n_distract = int(rng.integers(self.spec.distractors[0], self.spec.distractors[1] + 1))
        for _ in range(n_distract):
            ev = self._event(rng, board, duration, ambience.noise_rms, annotated=False)
            if ev is not None:
                events.append(ev)
        vid = f"{self.kind.value}_{index:05d}"
        return VideoPlan(vid, self.kind, subset, num_frames, fps, scene, ambience, tuple(events))

    def single(
        self,
        index: int,
        cls_index: int,
        start: float,
        length: float,
        duration: float,
        snr_db: float | None = None,
        idle: float = 0.0,
    ) -> VideoPlan:
        """A video of `duration` s whose only event is one instance of class `cls_index` (annotated),
        acting from `start` for about `length` s, shown still for `idle` s before and after, at
        `snr_db` over the noise (default: the low end of the sub-dataset's range). For tests and
        class galleries; the scene and background come from the usual per-video seed."""
        base = self.plan(index, SUBSETS[0])
        rng = np.random.default_rng([self.config.seed, KIND_CODE[self.kind], index, 7919 + cls_index])
        cls = self.vocab.classes[cls_index]
        heard = cls.timbre is not None
        end, beats, hold, rate = _timing(rng, cls, start, length, heard)
        recording = None
        if cls.timbre is Timbre.RECORDING:
            recording = self._excerpt(rng, cls.label, duration)
            end, beats = start + len(recording) / self.media.sample_rate, ()
        end = min(end, duration)
        board = Board([[] for _ in self.slots], [])
        shown = (max(0.0, start - idle), min(duration, end + idle))
        slot = cls_index % len(self.slots) if cls.visual is not None else None
        snr = self.spec.snr_db[0] if snr_db is None else snr_db
        ev = self._commit(
            rng,
            board,
            cls,
            True,
            start,
            end,
            shown,
            slot,
            beats,
            hold,
            rate,
            heard,
            cls.timbre,
            recording,
            base.ambience.noise_rms,
            snr,
        )
        scenery = tuple(e for e in base.events if e.label == "scenery")
        num_frames = int(round(duration * self.media.fps))
        return replace(base, num_frames=num_frames, events=scenery + (ev,))

    # ------------------------------------------------------------------ helpers

    def _scenery(self, rng: np.random.Generator, duration: float) -> PlannedEvent:
        full = Box(0, 0, self.media.width, self.media.height)
        vis = VisualEvent(
            pattern=VisualPattern.WANDER,
            slot=full,
            start=0.0,
            end=duration,
            show_from=0.0,
            show_to=duration,
            hue=float(rng.uniform(0, 1)),
            sat=float(rng.uniform(0.15, 0.5)),
            val=float(rng.uniform(0.4, 0.9)),
            size=float(rng.uniform(0.8, 1.4)),
            rate=float(rng.uniform(*RATES[VisualPattern.WANDER])),
            amp=float(rng.uniform(0.5, 1.0)),
            seed=int(rng.integers(2**31)),
        )
        return PlannedEvent("scenery", None, 0.0, duration, visual=vis)

    def _length(self, rng: np.random.Generator, cls: SynthClass, duration: float) -> float:
        if cls.duration is not None:
            lo, hi = cls.duration
            return min(loguniform(rng, lo, hi), duration)
        lo = self.spec.min_event
        if cls.beats is not None:  # room for at least two beats (and the last one's sound)
            tail = tail_seconds(cls.timbre, 0.2) if cls.timbre is not None else 0.0
            lo = max(lo, cls.beats.period[1] * (1.0 + cls.beats.jitter) + tail)
        hi = max(self.spec.max_event_fraction * duration, lo)
        return min(loguniform(rng, lo, hi), duration)

    def _pick_slot(self, rng: np.random.Generator, cls_index: int, board: Board, a: float, b: float) -> int | None:
        n = len(self.slots)
        preferred = cls_index % n
        if rng.uniform() < PREFERRED_SLOT_PROBABILITY and board.slot_free(preferred, a, b):
            return preferred
        free = [i for i in range(n) if board.slot_free(i, a, b)]
        return int(free[rng.integers(len(free))]) if free else None

    def _event(
        self, rng: np.random.Generator, board: Board, duration: float, noise_rms: float, annotated: bool
    ) -> PlannedEvent | None:
        """One event placed without conflicts (None after MAX_TRIES failed placements)."""
        classes = self.vocab.classes
        cls_index = int(rng.integers(len(classes)))
        cls = classes[cls_index]
        seen = cls.visual is not None
        heard = cls.timbre is not None
        if not annotated:  # an AVEL distractor keeps one modality only
            if rng.uniform() < 0.5:
                heard = False
            else:
                seen = False
        for _ in range(MAX_TRIES):
            length = self._length(rng, cls, duration)
            recording = None
            if cls.timbre is Timbre.RECORDING or (cls.label in self.vocab.recordings and rng.uniform() < 0.5):
                recording = self._excerpt(rng, cls.label, duration)
                length = len(recording) / self.media.sample_rate
            start = float(round(rng.uniform(0.0, max(duration - length, 0.0)), 3))
            end, beats, hold, rate = _timing(rng, cls, start, length, heard)
            if recording is not None:
                end, beats = start + length, ()
            end = min(end, duration)
            shown = (start, end)
            if seen and rng.uniform() < self.spec.idle_probability:
                shown = (
                    max(0.0, start - rng.uniform(*self.spec.idle_pad)),
                    min(duration, end + rng.uniform(*self.spec.idle_pad)),
                )
            if seen and cls.visual is VisualPattern.FIREWORK:
                shown = (shown[0], min(duration, max(shown[1], end + 0.45)))
            timbre = Timbre.RECORDING if recording is not None else cls.timbre
            if heard and not board.sound_ok(start, end, timbre, cls.label, self.spec.max_polyphony):
                continue
            slot = self._pick_slot(rng, cls_index, board, *shown) if seen else None
            if seen and slot is None:
                continue
            return self._commit(
                rng,
                board,
                cls,
                annotated,
                start,
                end,
                shown,
                slot,
                beats,
                hold,
                rate,
                heard,
                timbre,
                recording,
                noise_rms,
            )
        return None

    def _commit(
        self,
        rng: np.random.Generator,
        board: Board,
        cls: SynthClass,
        annotated: bool,
        start: float,
        end: float,
        shown: tuple[float, float],
        slot: int | None,
        beats: tuple[float, ...],
        hold: float,
        rate: float,
        heard: bool,
        timbre: Timbre | None,
        recording: np.ndarray | None,
        noise_rms: float,
        snr_db: float | None = None,
    ) -> PlannedEvent:
        visual = sound = None
        if slot is not None:
            board.slot_busy[slot].append(shown)
            visual = _visual(rng, cls, self.slots[slot], start, end, shown, beats, hold, rate)
        if heard and timbre is not None:
            board.sounds.append((start, end, timbre, cls.label))
            snr = rng.uniform(*self.spec.snr_db) if snr_db is None else snr_db
            sound = SoundEvent(  # level: `snr` dB over the background noise (both as RMS)
                timbre=timbre,
                start=start,
                end=end,
                gain=float(noise_rms * 10.0 ** (snr / 20.0)),
                pitch=float(rng.uniform(0.92, 1.08)),
                rate=rate,
                hold=hold,
                beats=beats,
                seed=int(rng.integers(2**31)),
                samples=recording,
            )
        label_id = self.vocab.labels.index(cls.label) if annotated else None
        return PlannedEvent(cls.label, label_id, start, end, visual=visual, sound=sound)

    def _excerpt(self, rng: np.random.Generator, label: str, duration: float) -> np.ndarray:
        """A recording of `label`: whole if at most 3 s, else a random 0.5-3 s excerpt trimmed of silence."""
        sr = self.media.sample_rate
        clips = self.vocab.recordings[label]
        x = clips[int(rng.integers(len(clips)))].samples
        limit = min(3.0, duration)
        if len(x) > limit * sr:
            n = int(loguniform(rng, min(0.5, limit), limit) * sr)
            off = int(rng.integers(0, len(x) - n + 1))
            x = x[off : off + n]
            a, b = loud_span(x, sr)
            x = x[a:b] if b - a >= sr // 20 else x
        return np.asarray(x, np.float32)


def plan_videos(config: SynthConfig, kind: Kind, vocab: SynthVocabulary) -> list[VideoPlan]:
    """The plans of all videos of one sub-dataset."""
    planner = Planner(config, kind, vocab)
    names = subsets(config.seed, kind, config.videos, config.split)
    return [planner.plan(i, names[i]) for i in range(config.videos)]


def without_event(plan: VideoPlan, index: int) -> VideoPlan:
    """The same plan with event `index` removed (to check that it changes nothing else)."""
    return replace(plan, events=plan.events[:index] + plan.events[index + 1 :])
