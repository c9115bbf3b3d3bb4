"""UniAV Studio: unified audio-visual event localization (TAL, AVEL, SED) with one model.

The main entry points are imported lazily (``from uniav import UniAV``) so that importing the
package, or running ``uniav --help``, does not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

from uniav.runtime import prefer_passive_openmp

__version__ = "0.1.0"

# every entry point (the CLI, app.py, the tests, `import uniav...` in a notebook) comes through here before
# PyTorch is imported: the one place to set how its OpenMP threads wait (see `uniav.runtime`)
prefer_passive_openmp()

_EXPORTS = {
    "ModelConfig": "uniav.config",
    "TaskConfig": "uniav.config",
    "DecodeConfig": "uniav.config",
    "EncoderSpec": "uniav.config",
    "UniAV": "uniav.model.uniav",
    "Detector": "uniav.pipeline.detector",
    "DetectionResult": "uniav.pipeline.results",
    "convert_official": "uniav.official",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'uniav' has no attribute {name!r}")
