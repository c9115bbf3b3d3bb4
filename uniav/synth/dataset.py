"""Assemble UniAV-Synth: plan every video, render them (in parallel), write the annotation files.

Layout of OUT_DIR, one folder per sub-dataset (`tal`, `avel`, `sed`):

    OUT_DIR/synth.json                      the generator settings (seed, counts, format, labels)
    OUT_DIR/{kind}/annotations.json         {"database": {id: {subset, duration, fps, annotations}}}
    OUT_DIR/{kind}/classes.txt              one label per line; line i is label_id i
    OUT_DIR/{kind}/videos/{id}.mp4          H.264 + AAC

Plans are drawn in the parent process (cheap and deterministic); workers only render, so the
output does not depend on the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from uniav.synth.config import SynthConfig
from uniav.synth.plan import VideoPlan
from uniav.synth.recordings import Recording, load_recordings
from uniav.synth.render import iter_frames, render_audio
from uniav.synth.schedule import SynthVocabulary, plan_videos, vocabulary
from uniav.synth.vocab import Kind
from uniav.synth.writer import write_mp4

GENERATOR_VERSION = "uniav-synth-1"
ANNOTATIONS = "annotations.json"
CLASSES = "classes.txt"
VIDEOS = "videos"


class Annotated(Protocol):
    """What an annotation file is written from: a video id and its per-video record (a
    `VideoPlan`, or a `uniav.sounds` clip plan)."""

    video_id: str

    def annotation_record(self) -> dict: ...


@dataclass(frozen=True)
class RenderJob:
    """One video to render: its plan and the file to write."""

    plan: VideoPlan
    path: Path


@dataclass(frozen=True)
class KindOutput:
    """What was written for one sub-dataset."""

    kind: Kind
    folder: Path
    classes: tuple[str, ...]
    plans: tuple[VideoPlan, ...]

    @property
    def annotations_path(self) -> Path:
        return self.folder / ANNOTATIONS


def annotation_database(plans: Sequence[Annotated]) -> dict:
    """The authors' layout: {"database": {video_id: record}} in video-id order."""
    return {"database": {p.video_id: p.annotation_record() for p in sorted(plans, key=lambda p: p.video_id)}}


def write_annotations(folder: Path, classes: tuple[str, ...], plans: Sequence[Annotated]) -> None:
    """Write `annotations.json` and `classes.txt` of one sub-dataset into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ANNOTATIONS).write_text(json.dumps(annotation_database(plans)) + "\n", encoding="utf-8")
    (folder / CLASSES).write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")


def render_video(job: RenderJob, config: SynthConfig) -> str:
    """Render one planned video to its MP4 file; returns its id."""
    audio = render_audio(job.plan, config.media)
    write_mp4(job.path, iter_frames(job.plan, config.media), audio, config.media)
    return job.plan.video_id


def _render_in_worker(job: RenderJob, config: SynthConfig) -> tuple[str, int]:
    return render_video(job, config), job.plan.num_frames


def plan_dataset(
    config: SynthConfig, recordings: dict[str, tuple[Recording, ...]] | None = None
) -> dict[Kind, tuple[SynthVocabulary, list[VideoPlan]]]:
    """Vocabulary and plans of every requested sub-dataset (no rendering)."""
    out = {}
    for kind in config.kinds:
        vocab = vocabulary(kind, recordings)
        out[kind] = (vocab, plan_videos(config, kind, vocab))
    return out


def generate(
    config: SynthConfig,
    out_dir: Path,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[KindOutput]:
    """Make the whole benchmark under `out_dir`: plans, videos (`workers` processes), annotations.

    `progress(frames_done, frames_total)` is called after each video.
    """
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    recordings = load_recordings(config.sounds_dir, config.media.sample_rate) if config.sounds_dir else None
    planned = plan_dataset(config, recordings)
    jobs: list[RenderJob] = []
    for kind, (_, plans) in planned.items():
        videos = out_dir / kind.value / VIDEOS
        videos.mkdir(parents=True, exist_ok=True)
        jobs.extend(RenderJob(p, videos / f"{p.video_id}.mp4") for p in plans)
    jobs.sort(key=lambda j: -j.plan.num_frames)  # longest first: better load balance
    total = sum(j.plan.num_frames for j in jobs)
    done = 0
    if workers == 1:
        for job in jobs:
            render_video(job, config)
            done += job.plan.num_frames
            if progress:
                progress(done, total)
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_render_in_worker, job, config) for job in jobs]
            for fut in as_completed(futures):
                done += fut.result()[1]
                if progress:
                    progress(done, total)
    outputs = []
    for kind, (vocab, plans) in planned.items():
        folder = out_dir / kind.value
        write_annotations(folder, vocab.labels, plans)
        outputs.append(KindOutput(kind, folder, vocab.labels, tuple(plans)))
    _write_settings(out_dir, config, outputs)
    return outputs


def _write_settings(out_dir: Path, config: SynthConfig, outputs: list[KindOutput]) -> None:
    settings = {
        "generator": GENERATOR_VERSION,
        "seed": config.seed,
        "videos_per_kind": config.videos,
        "split": list(config.split),
        "media": asdict(config.media),
        "sounds_dir": str(config.sounds_dir) if config.sounds_dir else None,
        "kinds": {o.kind.value: {"task": o.kind.task, "classes": list(o.classes)} for o in outputs},
    }
    (out_dir / "synth.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
