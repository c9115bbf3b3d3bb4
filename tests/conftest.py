"""Shared test fixtures: where the shared reference files live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("UNIAV_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        raise FileNotFoundError(f"shared reference folder not found at {SHARED_DIR} (set UNIAV_SHARED)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def media_dir(shared_dir: Path) -> Path:
    return shared_dir / "media"


@pytest.fixture(scope="session")
def official_fixtures() -> Path:
    return Path(os.environ.get("UNIAV_OFFICIAL_FIXTURES", SHARED_DIR / "fixtures" / "official-small"))


@pytest.fixture(scope="session")
def map_fixtures() -> Path:
    return Path(os.environ.get("UNIAV_MAP_FIXTURES", SHARED_DIR / "fixtures" / "map-small"))
