"""The package ships its bundled model, example clips and data files (a wheel built from the project)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import uniav
from uniav.defaults import BUNDLED_MODEL_NAME, bundled_model_dir, examples_dir
from uniav.studio.examples import list_examples

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_bundled_model_and_examples_are_found_through_the_package():
    package = Path(uniav.__file__).resolve().parent
    assert bundled_model_dir() == package / "checkpoints" / BUNDLED_MODEL_NAME
    assert (bundled_model_dir() / "config.json").is_file() and (bundled_model_dir() / "model.safetensors").is_file()
    assert examples_dir() == package / "examples" and list_examples(examples_dir())


@pytest.mark.slow
def test_a_built_wheel_carries_the_model_the_examples_and_the_data_files(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("uniav-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in bundled_model_dir().iterdir():
        assert f"uniav/checkpoints/{BUNDLED_MODEL_NAME}/{f.name}" in names
    for clip in list_examples(examples_dir()):
        assert f"uniav/examples/{clip.relative_to(examples_dir()).as_posix()}" in names
    for data in ("uniav/vocab/desed.txt", "uniav/vocab/imagenet1k.txt", "uniav/sounds/picture_map.toml"):
        assert data in names
