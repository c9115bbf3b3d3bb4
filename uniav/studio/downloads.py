"""The result as files to download: JSON (the schema of ``uniav predict``) and CSV."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from uniav.pipeline.results import DetectionResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download_stem(file_name: str) -> str:
    """A safe file-name stem from the clip's name (``"my clip.mp4"`` -> ``"my_clip.uniav"``)."""
    stem = _UNSAFE.sub("_", Path(file_name).stem).strip("._") or "clip"
    return f"{stem[:80]}.uniav"


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_downloads(result: DetectionResult, folder: str | Path) -> tuple[Path, Path]:
    """Write ``<clip>.uniav.json`` and ``<clip>.uniav.csv`` for `result` into `folder` (created if
    needed, files replaced atomically); returns their paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stem = download_stem(result.file)
    json_path, csv_path = out / f"{stem}.json", out / f"{stem}.csv"
    _write_atomic(json_path, result.to_json() + "\n")
    _write_atomic(csv_path, result.to_csv())
    return json_path, csv_path
