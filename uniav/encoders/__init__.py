"""Frozen encoders: media file -> per-snippet visual/audio features, prompts -> text embeddings.

Kinds (`EncoderSpec.kind`): ``signal`` (weight-free; visual 384, audio 256, text 512), ``clip-clap``
(CLIP frames + CLAP audio through `transformers`), ``features`` (precomputed ONE-PEACE ``.npy``).
Use `build_encoder(spec)`; wrap in `CachedEncoder` (or pass ``cache=FeatureCache()``) to reuse features
across runs.
"""

from uniav.encoders.base import (
    ClipFeatures,
    Encoder,
    EncoderError,
    MediaFunctions,
    UnknownPromptError,
)
from uniav.encoders.cache import CachedEncoder, CacheStats, FeatureCache, default_cache_root, file_sha256
from uniav.encoders.factory import ENCODER_KINDS, build_encoder

__all__ = [
    "ENCODER_KINDS",
    "CacheStats",
    "CachedEncoder",
    "ClipFeatures",
    "Encoder",
    "EncoderError",
    "FeatureCache",
    "MediaFunctions",
    "UnknownPromptError",
    "build_encoder",
    "default_cache_root",
    "file_sha256",
]
