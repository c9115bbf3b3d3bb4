"""What the page shows for a result: the `View` record the studio's service returns and the session keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from uniav.pipeline.results import DetectionResult


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
