"""Process-wide runtime settings that must be made before PyTorch is imported.

OpenMP threads that wait by spinning starve each other, and everything else, on a busy machine (a network run
of the bundled model took 14 s instead of 0.13 s on 2 shared cores); sleeping waits cost next to nothing.
PyTorch reads the policy once, when it is imported, so the package's ``__init__`` calls `prefer_passive_openmp`
before any module of it can import PyTorch. A value already in the environment wins.
"""

from __future__ import annotations

import os

OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def prefer_passive_openmp() -> None:
    for name, value in OPENMP_DEFAULTS.items():
        os.environ.setdefault(name, value)
