"""The studio behind ``app.py``: settings, model loading, per-session state, timeline, tables, downloads.

Everything here is testable without a browser; ``app.py`` only lays out the page and wires events.
"""

from uniav.studio.downloads import download_stem, write_downloads
from uniav.studio.errors import StudioError, describe_error, md_escape
from uniav.studio.models import LoadedModel, ModelRef, ModelRegistry
from uniav.studio.prompts import (
    DEFAULT_THRESHOLD,
    DEFAULT_TOP_K,
    MAX_LABELS,
    MAX_TOP_K,
    PAPER_PRESET,
    PRESET_MODEL,
    TaskSettings,
    default_template,
    labels_text,
    preset_choices,
    preset_labels,
)
from uniav.studio.service import Studio, View, media_kind
from uniav.studio.session import ClipState, Session, close_session
from uniav.studio.settings import MEDIA_EXTENSIONS, SettingsError, StudioSettings, list_examples
from uniav.studio.tables import TABLE_COLUMNS, detection_table, status_markdown
from uniav.studio.timeline import build_lane, empty_timeline, task_title, timeline_figure

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_TOP_K",
    "MAX_LABELS",
    "MAX_TOP_K",
    "MEDIA_EXTENSIONS",
    "PAPER_PRESET",
    "PRESET_MODEL",
    "TABLE_COLUMNS",
    "ClipState",
    "LoadedModel",
    "ModelRef",
    "ModelRegistry",
    "Session",
    "SettingsError",
    "Studio",
    "StudioError",
    "StudioSettings",
    "TaskSettings",
    "View",
    "build_lane",
    "close_session",
    "default_template",
    "describe_error",
    "detection_table",
    "download_stem",
    "empty_timeline",
    "labels_text",
    "list_examples",
    "md_escape",
    "media_kind",
    "preset_choices",
    "preset_labels",
    "status_markdown",
    "task_title",
    "timeline_figure",
    "write_downloads",
]
