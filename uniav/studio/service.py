"""The studio's work, free of any UI: check a file, analyse a clip, update its detections, render the views.

`Studio.check_file` says what an uploaded file is (which player shows it, or why it cannot be read) before
any analysis; `Studio.analyze` is the slow path (decode + encode + backbone, with progress); `Studio.update`
is what every edit of a template, a label list, a threshold or a maximum runs: it reuses the session's
`ClipAnalysis`, so only the text side, the classification head and the decoding run again. Both return a
`View` (figure, table, download files, status) or raise `StudioError`; `Studio.stale` is the last timeline
marked out of date, for an edit that cannot be applied.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

from uniav.encoders import FeatureCache
from uniav.media import MediaError, probe_media
from uniav.pipeline.results import DetectionResult
from uniav.progress import ProgressFn, no_progress
from uniav.studio.downloads import write_downloads
from uniav.studio.errors import StudioError, describe_error, md_escape, without_paths
from uniav.studio.examples import Example, load_examples
from uniav.studio.model_info import lane_caveats
from uniav.studio.models import LoadedModel, ModelRegistry
from uniav.studio.prompts import TaskSettings
from uniav.studio.session import ClipState, ScoredVocabulary, Session
from uniav.studio.settings import MEDIA_EXTENSIONS, StudioSettings
from uniav.studio.tables import describe_tracks, detection_table, status_markdown
from uniav.studio.timeline import stale_timeline, timeline_figure
from uniav.studio.view import View
from uniav.vocabularies import VocabularyError

MODEL_SHARE = 0.1  # of the progress bar, when the model has to be loaded first


@dataclass(frozen=True)
class FileCheck:
    """What the page shows for a file put in the upload box, before any analysis: which player plays it
    (``"video"``, ``"audio"``; None: it cannot be read, or there is no file) and a status line."""

    player: str | None
    status: str


class Studio:
    """The app's service: settings, loaded models, example clips; stateless between calls except the
    shared model registry (each user's clip lives in their `Session`)."""

    def __init__(self, settings: StudioSettings, registry: ModelRegistry | None = None) -> None:
        self.settings = settings
        cache = FeatureCache(settings.cache_dir / "features") if settings.cache_dir is not None else None
        self.registry = (
            registry if registry is not None else ModelRegistry(feature_cache=cache, token=settings.hf_token)
        )
        self.examples: tuple[Example, ...] = load_examples(settings.examples_dir)

    def example(self, index: int | None) -> Example:
        """The example clip at `index` of `examples` (the page passes the one clicked)."""
        if index is None or not 0 <= int(index) < len(self.examples):
            raise StudioError("No such example", f"pick one of the {len(self.examples)} example clips")
        return self.examples[int(index)]

    # ---- models ---------------------------------------------------------------------------------
    def load_model(self, text: str | None, progress: ProgressFn | None = None) -> LoadedModel:
        return self.registry.get(text, progress)

    @staticmethod
    def check_tasks(model: LoadedModel, tasks: Sequence[str] | None) -> tuple[str, ...]:
        """The selected tasks in the model's order; none selected or one the model lacks raise."""
        chosen = [t for t in (tasks or []) if t]
        if not chosen:
            raise StudioError("No task selected", f"tick at least one of {', '.join(model.tasks)}")
        served = {t.upper(): t for t in model.tasks}
        missing = [t for t in chosen if t.upper() not in served]
        if missing:
            raise StudioError(
                f"The model {model.ref.label} does not serve {', '.join(missing)}",
                f"it serves {', '.join(model.tasks)}",
            )
        picked = {served[t.upper()] for t in chosen}
        return tuple(t for t in model.tasks if t in picked)

    # ---- a new file -------------------------------------------------------------------------------
    @staticmethod
    def _check_type(path: str) -> str:
        name = Path(path).name
        if Path(path).suffix.lower() not in MEDIA_EXTENSIONS:
            raise StudioError(
                f"Cannot read {name}", f"unsupported file type; upload one of {' '.join(MEDIA_EXTENSIONS)}"
            )
        return name

    def check_file(self, session: Session, path: str | None) -> FileCheck:
        """What `path` holds (probing it takes milliseconds: no decoding), for the page to show before the
        analysis; the session forgets its last clip (its results belong to the previous file)."""
        session.forget()
        if not path:
            return FileCheck(None, "")
        path = str(path)
        try:
            name = self._check_type(path)
            info = probe_media(path)
        except (StudioError, MediaError) as exc:
            return FileCheck(None, describe_error(exc, "read the file", aliases={path: Path(path).name}).markdown())
        tracks = describe_tracks(info.has_video, info.has_audio)
        return FileCheck(
            "video" if info.has_video else "audio",
            f"**{md_escape(name)}** · {info.duration:.1f} s · {tracks} · press **Detect** to analyse it",
        )

    # ---- the slow path: a new clip --------------------------------------------------------------
    def analyze(
        self,
        session: Session,
        path: str | None,
        model_text: str | None,
        tasks: Sequence[str] | None,
        settings: Mapping[str, TaskSettings],
        progress: ProgressFn | None = None,
    ) -> View:
        """Decode, encode and run the model on `path`, then detect with `settings`; stores the clip in
        `session` (or clears it when anything fails)."""
        progress = progress or no_progress
        session.forget()
        if not path:
            raise StudioError("No file", "upload a video or audio file, or pick an example clip")
        path = str(path)
        name = self._check_type(path)
        if not Path(path).exists():  # e.g. an upload older than the cache's lifetime, deleted since
            minutes = max(1, round(self.settings.cache_ttl_s / 60))
            raise StudioError(
                f"Cannot read {name}",
                f"the server no longer holds this file (uploads are kept about {minutes} min): upload it again",
            )
        need_load = self.registry.peek(model_text) is None
        share = MODEL_SHARE if need_load else 0.0
        model = self.load_model(model_text, lambda f, m: progress(share * f, m))
        names = self.check_tasks(model, tasks)
        for t in names:  # a bad vocabulary fails now, not after a long analysis
            self._task_settings(settings, t).vocabulary(model.task(t))
        seen: list[str] = []

        def report(frac: float, message: str) -> None:
            seen.append(message)
            progress(share + (1 - share) * frac, message)

        start = time.perf_counter()
        try:
            analysis = model.detector.analyze(path, names, report)
        except Exception as exc:  # noqa: BLE001 - shown in the page, never a traceback
            raise describe_error(exc, f"analyse {name}", aliases={path: name}) from exc
        seconds = time.perf_counter() - start
        session.clip = ClipState(model, path, name, analysis, names, seconds, from_cache="cached" in seen)
        timing = "analysis reused from the cache" if session.clip.from_cache else f"analysed in {seconds:.1f} s"
        return self.render(session, names, settings, timing)

    # ---- the fast path: an edit -----------------------------------------------------------------
    def update(self, session: Session, tasks: Sequence[str] | None, settings: Mapping[str, TaskSettings]) -> View:
        """Detections of the session's clip for new settings, without decoding or encoding anything."""
        clip = self._clip(session)
        return self.render(session, self.check_tasks(clip.model, tasks), settings, None)

    # ---- rendering ------------------------------------------------------------------------------
    @staticmethod
    def _task_settings(settings: Mapping[str, TaskSettings], task: str) -> TaskSettings:
        try:
            return settings[task]
        except KeyError:
            raise StudioError(f"No settings for {task}", "the page sent no template or labels for it") from None

    def detect(self, session: Session, tasks: Sequence[str], settings: Mapping[str, TaskSettings]) -> DetectionResult:
        """The `DetectionResult` of the session's clip for the analysed tasks among `tasks`.

        A task whose vocabulary (labels, template) is unchanged since the last call is only filtered again
        (threshold, maximum); only a changed vocabulary runs the text side and the head.
        """
        clip = self._clip(session)
        det = clip.model.detector
        results = {}
        for t in tasks:
            if t not in clip.tasks:
                continue
            s = self._task_settings(settings, t)
            vocab = s.vocabulary(clip.model.task(t))
            scored = clip.scored.get(t)
            if scored is None or scored.vocabulary != vocab:
                try:
                    scored = ScoredVocabulary(vocab, det.detect_all(clip.analysis, vocab))
                except VocabularyError as exc:  # e.g. an unknown prompt for a features-only encoder
                    raise StudioError(f"{t} vocabulary", exc.detail) from None
                clip.scored[t] = scored
            results[t] = scored.detections.filtered(s.threshold, s.top_k)
        return DetectionResult(
            file=clip.name,
            duration=clip.analysis.duration,
            tasks=results,
            # (notes come with a clip's cached features, and a cache written before notes were path-free may
            # still name the folder the clip was first read from)
            notes=tuple(without_paths(note) for note in clip.analysis.notes),
            model=clip.model.ref.label,
        )

    @staticmethod
    def _clip(session: Session) -> ClipState:
        if session.clip is None:
            raise StudioError("Nothing to update yet", "upload a clip and press Detect")
        return session.clip

    def render(
        self, session: Session, tasks: Sequence[str], settings: Mapping[str, TaskSettings], timing: str | None
    ) -> View:
        """Detect and build every view; `timing` None says "updated in N ms" (this call's own time)."""
        clip = self._clip(session)
        start = time.perf_counter()
        result = self.detect(session, tasks, settings)
        thresholds = {t: settings[t].threshold for t in result.tasks}
        order = list(result.tasks)
        figure = timeline_figure(result, thresholds, order, lane_caveats(clip.model))
        table = detection_table(result)
        json_path, csv_path = write_downloads(result, session.folder())
        seconds = time.perf_counter() - start
        status = status_markdown(
            result,
            tracks=describe_tracks(clip.analysis.has_video, clip.analysis.has_audio),
            model=clip.model.ref.label,
            thresholds=thresholds,
            pending=[t for t in tasks if t not in clip.tasks],
            timing=timing if timing is not None else f"updated in {1000 * seconds:.0f} ms without re-encoding",
        )
        session.view = View(result, figure, table, json_path, csv_path, status, seconds)
        return session.view

    @staticmethod
    def stale(session: Session, error: StudioError) -> go.Figure | None:
        """The session's last timeline greyed out under a banner naming `error` (None: nothing is shown)."""
        return stale_timeline(session.view.figure, str(error)) if session.view is not None else None
