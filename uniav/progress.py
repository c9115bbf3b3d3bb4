"""Progress callbacks, one definition for the whole package.

Long work reports through a `ProgressFn` (``progress(fraction, message)``, fraction in [0, 1]) or, inside
the encoders where the stage is known to the caller, a `FractionFn` (``progress(fraction)``). The CLI turns
them into a tqdm bar, the studio into ``gr.Progress``.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[float, str], None]
FractionFn = Callable[[float], None]


def no_progress(fraction: float, message: str = "") -> None:
    """A progress callback that ignores what it is told (usable as a `ProgressFn` or a `FractionFn`)."""


def scaled(progress: ProgressFn, start: float, span: float) -> ProgressFn:
    """`progress` seen through a sub-range: ``fraction`` f reports ``start + span * f``."""

    def report(fraction: float, message: str) -> None:
        progress(start + span * min(max(float(fraction), 0.0), 1.0), message)

    return report
