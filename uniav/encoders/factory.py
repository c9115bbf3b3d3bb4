"""Build the encoder an `EncoderSpec` names (optionally behind the on-disk feature cache)."""

from __future__ import annotations

from uniav.config import EncoderSpec
from uniav.encoders.base import Encoder, EncoderError, MediaFunctions
from uniav.encoders.cache import CachedEncoder, FeatureCache

ENCODER_KINDS = ("signal", "clip-clap", "features")


def build_encoder(
    spec: EncoderSpec, *, media: MediaFunctions | None = None, cache: FeatureCache | None = None
) -> Encoder:
    """The encoder of `spec.kind` with `spec.options`.

    `media` replaces the decoders (`uniav.media` by default); with `cache`, the encoder is wrapped in a
    `CachedEncoder` using it. Unknown kinds or options raise `EncoderError`.
    """
    if not isinstance(spec, EncoderSpec):
        raise EncoderError(f"build_encoder expects an EncoderSpec, got {type(spec).__name__}")
    encoder: Encoder
    if spec.kind == "signal":
        from uniav.encoders.signal_encoder import SignalEncoder

        encoder = SignalEncoder(spec, media=media)
    elif spec.kind == "clip-clap":
        from uniav.encoders.clip_clap import ClipClapEncoder

        encoder = ClipClapEncoder(spec, media=media)
    elif spec.kind == "features":
        from uniav.encoders.features import FeaturesEncoder

        encoder = FeaturesEncoder(spec)
    else:
        raise EncoderError(f"unknown encoder kind {spec.kind!r}; choose one of {list(ENCODER_KINDS)}")
    return CachedEncoder(encoder, cache) if cache is not None else encoder
