"""The studio's work, free of any UI: analyse a clip, update its detections, render the views.

`Studio.analyze` is the slow path (decode + encode + backbone, with progress); `Studio.update` is what
every edit of a template, a label list, a threshold or a maximum runs: it reuses the session's
`ClipAnalysis`, so only the text side, the classification head and the decoding run again.
Both return a `View` (figure, table, download files, status) or raise `StudioError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from uniav.encoders import FeatureCache
from uniav.pipeline.detector import with_threshold
from uniav.pipeline.results import DetectionResult
from uniav.studio.downloads import write_downloads
from uniav.studio.errors import StudioError, describe_error
from uniav.studio.models import LoadedModel, ModelRegistry
from uniav.studio.prompts import TaskSettings
from uniav.studio.session import ClipState, Session
from uniav.studio.settings import MEDIA_EXTENSIONS, StudioSettings, list_examples
from uniav.studio.tables import describe_tracks, detection_table, status_markdown
from uniav.studio.timeline import timeline_figure

ProgressFn = Callable[[float, str], None]
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac"})
MODEL_SHARE = 0.1  # of the progress bar, when the model has to be loaded first


def _noop(_: float, __: str) -> None:
    pass


def media_kind(path: str | Path) -> str:
    """``"audio"`` for audio file extensions, else ``"video"`` (which player shows a file before analysis)."""
    return "audio" if Path(path).suffix.lower() in AUDIO_EXTENSIONS else "video"


@dataclass(frozen=True)
class View:
    """Everything the page shows for a result."""

    result: DetectionResult
    figure: go.Figure
    table: pd.DataFrame
    json_path: Path
    csv_path: Path
    status: str
    seconds: float  # server time spent detecting and rendering


class Studio:
    """The app's service: settings, loaded models, example clips; stateless between calls except the
    shared model registry (each user's clip lives in their `Session`)."""

    def __init__(self, settings: StudioSettings, registry: ModelRegistry | None = None) -> None:
        self.settings = settings
        cache = FeatureCache(settings.cache_dir / "features") if settings.cache_dir is not None else None
        self.registry = registry if registry is not None else ModelRegistry(feature_cache=cache)
        self.examples = list_examples(settings.examples_dir)

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
        progress = progress or _noop
        session.clip = None
        if not path:
            raise StudioError("No file", "upload a video or audio file, or pick an example clip")
        path = str(path)
        name = Path(path).name
        if Path(path).suffix.lower() not in MEDIA_EXTENSIONS:
            raise StudioError(
                f"Cannot read {name}", f"unsupported file type; upload one of {' '.join(MEDIA_EXTENSIONS)}"
            )
        need_load = self.registry.peek(model_text) is None
        share = MODEL_SHARE if need_load else 0.0
        model = self.load_model(model_text, lambda f, m: progress(share * f, m))
        names = self.check_tasks(model, tasks)
        for t in names:  # a bad vocabulary fails now, not after a long analysis
            self._task_settings(settings, t).vocabulary(model.detector, t)
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

        A task whose vocabulary (labels, template) is unchanged since the last call is only filtered
        again (threshold, maximum); only a changed vocabulary runs the text side and the head.
        """
        clip = self._clip(session)
        det = clip.model.detector
        results = {}
        for t in tasks:
            if t not in clip.tasks:
                continue
            s = self._task_settings(settings, t)
            vocab = s.vocabulary(det, t)
            key = (vocab.labels, vocab.template)
            cached = clip.unfiltered.get(t)
            # detections are computed down to the threshold asked for; raising it only filters them again
            if cached is None or cached[0] != key or s.threshold < cached[1]:
                try:
                    full = det.detect(clip.analysis, t, vocab, threshold=s.threshold, top_k=None)
                except ValueError as exc:  # e.g. an unknown prompt for a features-only encoder
                    raise StudioError(f"{t} vocabulary", str(exc)) from None
                cached = clip.unfiltered[t] = (key, s.threshold, full)
            results[t] = with_threshold(cached[2], s.threshold, s.top_k)
        return DetectionResult(
            file=clip.name,
            duration=clip.analysis.duration,
            tasks=results,
            notes=clip.analysis.notes,
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
        figure = timeline_figure(result, thresholds, order)
        table = detection_table(result, order)
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
        return View(result, figure, table, json_path, csv_path, status, seconds)
