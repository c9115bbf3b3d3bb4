"""Per-user state of the studio (held in a ``gr.State``: never shared between browser sessions)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from uniav.pipeline.detector import ClipAnalysis
from uniav.pipeline.results import TaskResult
from uniav.studio.models import LoadedModel
from uniav.studio.view import View
from uniav.vocabularies import Vocabulary


@dataclass(frozen=True)
class ScoredVocabulary:
    """A task's last vocabulary and every detection it gives on the clip (down to the decoding floor): a
    threshold or maximum edit only filters these; an edit of another task's vocabulary leaves them alone."""

    vocabulary: Vocabulary
    detections: TaskResult


@dataclass(frozen=True)
class ClipState:
    """A clip analysed by a model: everything a vocabulary/threshold edit needs, nothing decoded again."""

    model: LoadedModel
    media_path: str  # the file on the server (the player shows it)
    name: str  # the file name the user knows
    analysis: ClipAnalysis
    tasks: tuple[str, ...]  # the tasks analysed, in the model's order
    seconds: float  # time the analysis took
    from_cache: bool  # the detector had the analysis already (same content, same model)
    # per task, its last vocabulary and all it detects (threshold and maximum edits filter them)
    scored: dict[str, ScoredVocabulary] = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_video(self) -> bool:
        return self.analysis.has_video


@dataclass
class Session:
    """One browser session: the model its panels show, its analysed clip, what the page last showed for it
    (the timeline an edit that cannot be applied marks out of date), its download folder."""

    model_text: str | None = None
    clip: ClipState | None = None
    view: View | None = None
    workdir: str | None = None

    def forget(self) -> None:
        """Drop the clip and its views (a new file, a new model, a failed analysis)."""
        self.clip = None
        self.view = None

    def folder(self) -> Path:
        """This session's own folder for download files (created on first use)."""
        if self.workdir is None or not Path(self.workdir).is_dir():
            self.workdir = tempfile.mkdtemp(prefix="uniav-studio-")
        return Path(self.workdir)

    def close(self) -> None:
        """Remove the session's files (called when Gradio drops the session)."""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def close_session(session: Session | None) -> None:
    """``gr.State`` delete callback."""
    if isinstance(session, Session):
        session.close()
