"""Defaults shared by the command line, the studio and the Python API, in one place.

The bundled model and the example clips are package data: ``uniav/checkpoints`` and ``uniav/examples`` (in
the source tree, links to the project's ``checkpoints/`` and ``assets/`` folders; in a built wheel, copies),
found through `importlib.resources`, so ``pip install`` of the package ships them and nothing depends on
where the source tree is. ``$UNIAV_MODEL`` (a model folder or a Hub repo id) replaces the bundled model.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

# detections scoring below this are not shown; the maximum number of detections shown per task
DEFAULT_THRESHOLD = 0.1
DEFAULT_TOP_K = 20

BUNDLED_MODEL_NAME = "uniav-sounds"
MODEL_ENV = "UNIAV_MODEL"


def _package_path(*parts: str) -> Path:
    return Path(str(resources.files("uniav").joinpath(*parts)))


def bundled_model_dir() -> Path:
    """The model shipped with the package (``uniav/checkpoints/<name>``)."""
    return _package_path("checkpoints", BUNDLED_MODEL_NAME)


def examples_dir() -> Path:
    """The example clips shipped with the package (``uniav/examples``)."""
    return _package_path("examples")


def default_model() -> str:
    """``$UNIAV_MODEL`` (a folder or a Hub repo id) if set, else the bundled model."""
    return os.environ.get(MODEL_ENV) or str(bundled_model_dir())


def is_bundled(name: str | Path) -> bool:
    """Whether `name` is the bundled model's folder (however it is spelled)."""
    try:
        return Path(name).expanduser().resolve() == bundled_model_dir().resolve()
    except OSError:
        return False
