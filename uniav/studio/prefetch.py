"""Download the studio's model ahead of time: ``python -m uniav.studio.prefetch`` (the Docker build runs it).

The model is ``$UNIAV_MODEL`` (a Hub repo id, ``owner/name[@revision]``; the bundled model and local folders
need nothing) and a private one needs ``$HF_TOKEN``. A download that fails is reported and left to start-up,
where the app fetches the model itself with the token it reads then (a Space secret reaches the running
container even when the build had none): the build never fails for it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from uniav.hub import resolve_model_dir
from uniav.studio.models import ModelRef
from uniav.studio.settings import SettingsError, StudioSettings


def prefetch(settings: StudioSettings) -> Path | None:
    """The local folder of the settings' model, downloading a Hub model into the Hub cache (None: it is a
    local folder or the bundled model, nothing to fetch)."""
    ref = ModelRef.parse(settings.model)
    if Path(ref.name).expanduser().exists():
        return None
    return resolve_model_dir(ref.name, revision=ref.revision, token=settings.hf_token)


def main() -> int:
    try:
        settings = StudioSettings.from_env()
        folder = prefetch(settings)
    except (SettingsError, FileNotFoundError, ValueError) as exc:
        print(f"uniav studio: model not fetched now ({exc}); the app will fetch it at start-up", file=sys.stderr)
        return 0
    print("uniav studio: " + (f"model in {folder}" if folder is not None else "nothing to fetch (a local model)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
