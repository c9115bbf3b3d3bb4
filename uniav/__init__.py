"""UniAV Studio: unified audio-visual event localization (TAL, AVEL, SED) with one model.

The main entry points are imported lazily (``from uniav import UniAV``) so that importing the
package, or running ``uniav --help``, does not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

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
