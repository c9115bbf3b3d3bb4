"""Frozen encoders: media file -> per-snippet visual/audio features, prompts -> text embeddings.

A model names one part per modality (`EncoderSpec(visual, audio, text)`), mixed freely:

- visual (`VisualKind`): ``signal`` (weight-free statistics, 384-d), ``effnet`` (EfficientNet-Lite0,
  ImageNet, from pip), ``clip`` (CLIP frames, Hub), ``features`` (precomputed ONE-PEACE ``.npy``);
- audio (`AudioKind`): ``signal`` (log-mel statistics, 256-d), ``yamnet`` (AudioSet, ONNX from pip),
  ``clap`` (CLAP 1-s windows, Hub), ``features``;
- text (`TextKind`): ``signal`` (hashed n-grams, 512-d), ``minilm`` (all-MiniLM-L6-v2, from pip),
  ``clip``, ``clap``, ``clip-clap`` (both, concatenated), ``features`` (stored prompt embeddings).

``build_encoder(EncoderSpec("signal", "yamnet", "minilm"))`` gives a `PartsEncoder` (one decode per file,
features of every grid asked for); visual and audio ``features`` give a `FeaturesEncoder` (they cannot
be mixed with media parts). Earlier single-kind specs: ``EncoderSpec.uniform("clip-clap", options)``.
`with_options` adds command-line options (``KEY`` to every part that takes it, ``audio.KEY`` to one).
Wrap in `CachedEncoder` (or pass ``cache=FeatureCache()``) to reuse features across runs. Parts are
written against `VisualPart`, `AudioPart`, `TextPart` (`uniav.encoders.parts`).
"""

from uniav.config import LEGACY_KINDS
from uniav.encoders.base import (
    NOTE_NO_AUDIO,
    NOTE_NO_FRAMES,
    NOTE_NO_VIDEO,
    ClipFeatures,
    Encoder,
    EncoderError,
    MediaFunctions,
    UnknownPromptError,
)
from uniav.encoders.cache import CachedEncoder, CacheStats, FeatureCache, default_cache_root, file_sha256
from uniav.encoders.composite import PartsEncoder
from uniav.encoders.factory import build_encoder, part_class, part_options, with_options
from uniav.encoders.features import FeaturesEncoder
from uniav.encoders.parts import AudioPart, PartOutput, TextPart, VisualPart

# the single kinds of earlier releases (`EncoderSpec.uniform`)
ENCODER_KINDS = tuple(LEGACY_KINDS)

__all__ = [
    "ENCODER_KINDS",
    "NOTE_NO_AUDIO",
    "NOTE_NO_FRAMES",
    "NOTE_NO_VIDEO",
    "AudioPart",
    "CacheStats",
    "CachedEncoder",
    "ClipFeatures",
    "Encoder",
    "EncoderError",
    "FeatureCache",
    "FeaturesEncoder",
    "MediaFunctions",
    "PartOutput",
    "PartsEncoder",
    "TextPart",
    "UnknownPromptError",
    "VisualPart",
    "build_encoder",
    "default_cache_root",
    "file_sha256",
    "part_class",
    "part_options",
    "with_options",
]
