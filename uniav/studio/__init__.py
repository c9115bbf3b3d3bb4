"""The studio behind ``app.py``: settings, model loading, per-session state, timeline, tables, downloads.

Everything here is testable without a browser; ``app.py`` only lays out the page and wires events.
"""

from uniav.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_K
from uniav.studio.downloads import download_stem, write_downloads
from uniav.studio.errors import StudioError, describe_error, md_escape, without_paths
from uniav.studio.examples import Example, list_examples, load_examples, readable_name
from uniav.studio.model_info import knowledge_notice, lane_caveats, model_panel, task_note
from uniav.studio.models import LoadedModel, ModelRef, ModelRegistry
from uniav.studio.prompts import (
    MAX_TOP_K,
    PAGE_TASKS,
    PAPER_PRESET,
    PRESET_MODEL,
    TaskFields,
    TaskSettings,
    default_template,
    labels_text,
    preset_choices,
    preset_labels,
    settings_from_fields,
)
from uniav.studio.service import FileCheck, Studio
from uniav.studio.session import ClipState, ScoredVocabulary, Session, close_session
from uniav.studio.settings import MEDIA_EXTENSIONS, SettingsError, StudioSettings
from uniav.studio.tables import TABLE_COLUMNS, detection_table, status_markdown
from uniav.studio.timeline import build_lane, empty_timeline, stack_levels, stale_timeline, task_title, timeline_figure
from uniav.studio.view import View

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_TOP_K",
    "MAX_TOP_K",
    "MEDIA_EXTENSIONS",
    "PAGE_TASKS",
    "PAPER_PRESET",
    "PRESET_MODEL",
    "TABLE_COLUMNS",
    "ClipState",
    "Example",
    "FileCheck",
    "LoadedModel",
    "ModelRef",
    "ModelRegistry",
    "ScoredVocabulary",
    "Session",
    "SettingsError",
    "Studio",
    "StudioError",
    "StudioSettings",
    "TaskFields",
    "TaskSettings",
    "View",
    "build_lane",
    "close_session",
    "default_template",
    "describe_error",
    "detection_table",
    "download_stem",
    "empty_timeline",
    "knowledge_notice",
    "labels_text",
    "lane_caveats",
    "list_examples",
    "load_examples",
    "md_escape",
    "model_panel",
    "preset_choices",
    "preset_labels",
    "readable_name",
    "settings_from_fields",
    "stack_levels",
    "stale_timeline",
    "status_markdown",
    "task_note",
    "task_title",
    "timeline_figure",
    "without_paths",
    "write_downloads",
]
