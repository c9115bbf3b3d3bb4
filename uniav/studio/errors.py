"""Exceptions turned into messages a person can act on: never a stack trace in the page.

`describe_error` maps what the pipeline raises (unreadable media, a model that will not load, a bad
vocabulary...) to a `StudioError` whose `title` says what failed and whose `detail` says why; anything
unexpected is logged with its traceback on the server and shown as a short, generic message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

from uniav.media import MediaError

log = logging.getLogger("uniav.studio")
MAX_DETAIL_CHARS = 600
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")
# an absolute POSIX path of at least one folder: "/tmp/gradio/2b9c/clip.mp4" (group 1: "clip.mp4")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/])/(?:[^\s/'\"\[\]()<>:,;]+/)+([^\s/'\"\[\]()<>:,;]+)")


class StudioError(Exception):
    """A failure to show in the page: `title` (what failed) and `detail` (why, specific)."""

    def __init__(self, title: str, detail: str = "") -> None:
        self.title = title
        self.detail = detail
        super().__init__(f"{title}: {detail}" if detail else title)

    def markdown(self) -> str:
        """The message as one Markdown line, user text escaped."""
        detail = f": {md_escape(self.detail)}" if self.detail else ""
        return f"⚠️ **{md_escape(self.title)}**{detail}"


def md_escape(text: str) -> str:
    """`text` with Markdown/HTML specials escaped, so labels and file names show literally."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def without_paths(text: str, aliases: Mapping[str, str] | None = None) -> str:
    """`text` with server paths replaced by the names the user knows: each of `aliases` (path -> name), then
    any other absolute path by its base name (an upload's ``/tmp/gradio/<hash>/clip.mp4`` -> ``clip.mp4``)."""
    for path, name in (aliases or {}).items():
        text = text.replace(path, name)
    return _ABSOLUTE_PATH.sub(r"\1", text)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def _plain(exc: BaseException) -> str:
    # KeyError's str() is the repr of its message; the first argument is the message itself
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc) or type(exc).__name__


def describe_error(exc: BaseException, action: str, aliases: Mapping[str, str] | None = None) -> StudioError:
    """The `StudioError` to show for `exc`, raised while trying to `action` ("read the file", ...).

    `aliases` maps server-side paths (upload temp files) to the names the user knows them by; no message
    names a server path (others are cut to their base names).
    """
    if isinstance(exc, StudioError):
        return exc
    aliases = dict(aliases or {})
    if isinstance(exc, MediaError):
        name = aliases.get(exc.path, Path(exc.path).name)
        return StudioError(f"Cannot read {name}", _shorten(without_paths(exc.reason, aliases)))
    if isinstance(exc, (ValueError, KeyError, FileNotFoundError, NotADirectoryError, PermissionError)):
        return StudioError(f"Could not {action}", _shorten(without_paths(_plain(exc), aliases)))
    if isinstance(exc, MemoryError):
        return StudioError(f"Could not {action}", "the server ran out of memory; try a shorter clip")
    log.error("unexpected error while trying to %s", action, exc_info=exc)
    return StudioError(f"Could not {action}", f"unexpected {type(exc).__name__}; the details are in the server log")
