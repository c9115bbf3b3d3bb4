"""The one error type of the media layer."""

from __future__ import annotations

import os


class MediaError(Exception):
    """A file that cannot be read as media; ``str(e) == f"{path}: {reason}"``.

    `path` is the file as given (a string), `reason` a short, specific, human-readable cause
    ("file not found", "empty file (0 bytes)", ...), fit to show to a user as is.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[MediaError], tuple[str, str]]:
        # Default pickling would call MediaError(message) and fail; keep (path, reason).
        return (type(self), (self.path, self.reason))
