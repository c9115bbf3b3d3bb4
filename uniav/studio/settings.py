"""Settings of the studio (the Gradio app), read from environment variables.

| variable | default | meaning |
|---|---|---|
| ``UNIAV_MODEL`` | the bundled model | model folder or Hub repo id (``owner/name[@revision]``) |
| ``UNIAV_CACHE`` | ``~/.cache/uniav`` | root of the feature cache (``$UNIAV_CACHE/features``) |
| ``UNIAV_MAX_UPLOAD_MB`` | 200 | largest upload accepted, in megabytes |
| ``UNIAV_CONCURRENCY`` | 2 | analyses (decode + encode + model) running at once; more wait in the queue |
| ``UNIAV_QUEUE_SIZE`` | 64 | requests waiting at most; beyond, users are told the queue is full |
| ``UNIAV_EXAMPLES`` | ``uniav/examples`` (= ``assets/``) | ``*.mp4`` / ``*.wav`` files under it are the examples |
| ``UNIAV_CACHE_TTL`` | 3600 | seconds an upload (and Gradio's copy of a result file) is kept on the server |
| ``HF_TOKEN`` | | Hugging Face token, read at start-up, for private Hub models (a Space secret) |
| ``GRADIO_SERVER_NAME`` | 127.0.0.1 | interface to listen on (``0.0.0.0`` in the Docker image) |
| ``GRADIO_SERVER_PORT`` | 7860 | port to listen on |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from uniav.defaults import default_model, examples_dir

TOKEN_ENV = "HF_TOKEN"
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
    examples_dir: Path = field(default_factory=examples_dir)
    server_name: str = "127.0.0.1"
    server_port: int = 7860
    cache_ttl_s: int = 3600  # Gradio's delete_cache: every so often, files older than this are deleted
    hf_token: str | None = field(default=None, repr=False)  # never printed

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
            examples_dir=Path(examples).expanduser() if examples else examples_dir(),
            server_name=env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
            server_port=_number(env, "GRADIO_SERVER_PORT", 7860, int, minimum=1, maximum=65535),
            cache_ttl_s=_number(env, "UNIAV_CACHE_TTL", 3600, int, minimum=1),
            hf_token=(env.get(TOKEN_ENV) or "").strip() or None,
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
