"""Media decoding and the snippet grid.

`probe_media` says what a file holds, `decode_audio` gives its sound as mono float32 at 16 kHz,
`open_video` streams its frames at 16 fps in bounded chunks; all raise `MediaError` with a
specific reason for files they cannot read, and report lesser problems in `notes`.
"""

from uniav.media.audio import AudioTrack, decode_audio
from uniav.media.errors import MediaError
from uniav.media.grid import SnippetGrid, audio_windows
from uniav.media.probe import MediaInfo, probe_media
from uniav.media.video import VideoBackend, VideoStream, open_video

__all__ = [
    "AudioTrack",
    "MediaError",
    "MediaInfo",
    "SnippetGrid",
    "VideoBackend",
    "VideoStream",
    "audio_windows",
    "decode_audio",
    "open_video",
    "probe_media",
]
