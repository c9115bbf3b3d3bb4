"""Settings of the studio (the Gradio app), read from environment variables.

| variable | default | meaning |
|---|---|---|
| ``UNIAV_MODEL`` | the bundled ``checkpoints/uniav-synth`` | model folder or Hub repo id (``owner/name[@revision]``) |
| ``UNIAV_CACHE`` | ``~/.cache/uniav`` | root of the feature cache (``$UNIAV_CACHE/features``) |
| ``UNIAV_MAX_UPLOAD_MB`` | 200 | largest upload accepted, in megabytes |
| ``UNIAV_CONCURRENCY`` | 2 | analyses (decode + encode + model) running at once; more wait in the queue |
| ``UNIAV_QUEUE_SIZE`` | 64 | requests waiting at most; beyond, users are told the queue is full |
| ``UNIAV_EXAMPLES`` | the project's ``assets/`` | ``*.mp4`` / ``*.wav`` files under it are the examples |
| ``GRADIO_SERVER_NAME`` | 127.0.0.1 | interface to listen on (``0.0.0.0`` in the Docker image) |
| ``GRADIO_SERVER_PORT`` | 7860 | port to listen on |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from uniav.defaults import REPO_ROOT, default_model

EXAMPLE_PATTERNS = ("*.mp4", "*.wav")
# what the upload box accepts (the media layer reads anything FFmpeg does; these are the usual ones)
MEDIA_EXTENSIONS = (
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".wav",
    ".mp3",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".m4a",
    ".aac",
)


class SettingsError(ValueError):
    """An environment variable with a value the studio cannot use (the message names it)."""


@dataclass(frozen=True)
class StudioSettings:
    """Everything the app reads from its environment, validated."""

    model: str
    cache_dir: Path | None = None
    max_upload_mb: float = 200.0
    concurrency: int = 2
    queue_size: int = 64
    examples_dir: Path = REPO_ROOT / "assets"
    server_name: str = "127.0.0.1"
    server_port: int = 7860

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_upload_text(self) -> str:
        """The upload limit as a person reads it ("200 MB", "0.5 MB")."""
        return f"{self.max_upload_mb:g} MB"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StudioSettings:
        """Settings from `environ` (default: ``os.environ``); a bad value raises `SettingsError`."""
        env = os.environ if environ is None else environ
        cache = env.get("UNIAV_CACHE")
        examples = env.get("UNIAV_EXAMPLES")
        return cls(
            model=env.get("UNIAV_MODEL") or default_model(),
            cache_dir=Path(cache).expanduser() if cache else None,
            max_upload_mb=_number(env, "UNIAV_MAX_UPLOAD_MB", 200.0, float, minimum=0.001),
            concurrency=_number(env, "UNIAV_CONCURRENCY", 2, int, minimum=1),
            queue_size=_number(env, "UNIAV_QUEUE_SIZE", 64, int, minimum=1),
            examples_dir=Path(examples).expanduser() if examples else REPO_ROOT / "assets",
            server_name=env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
            server_port=_number(env, "GRADIO_SERVER_PORT", 7860, int, minimum=1, maximum=65535),
        )


def _number(env: Mapping[str, str], name: str, default, kind, minimum=None, maximum=None):
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise SettingsError(f"{name} must be {bounds}, got {raw!r}")
    return value


def list_examples(folder: Path) -> list[Path]:
    """The example clips under `folder` (``*.mp4`` and ``*.wav``, in sub-folders too, skipping hidden ones
    and empty files), sorted by path; none if the folder is missing."""
    if not folder.is_dir():
        return []
    found = {
        p
        for pattern in EXAMPLE_PATTERNS
        for p in folder.rglob(pattern)
        if p.is_file() and p.stat().st_size and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())
