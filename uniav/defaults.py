"""Where the bundled default model lives, and the environment variables that override it."""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_MODEL_NAME = "uniav-synth"
REPO_ROOT = Path(__file__).resolve().parents[1]


def bundled_model_dir() -> Path:
    """The model shipped with the project (``checkpoints/uniav-synth`` beside the package)."""
    return REPO_ROOT / "checkpoints" / BUNDLED_MODEL_NAME


def default_model() -> str:
    """``$UNIAV_MODEL`` (a folder or a Hub repo id) if set, else the bundled model."""
    return os.environ.get("UNIAV_MODEL") or str(bundled_model_dir())
