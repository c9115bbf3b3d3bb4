"""Build the encoder an `EncoderSpec` names (optionally behind the on-disk feature cache); route options.

Every kind of every modality maps to its part class below (an exhaustive `match` per modality; the
modules of parts with heavy dependencies are imported only when their kind is asked for). A spec of
media parts builds a `PartsEncoder`; one whose visual and audio parts are both ``features`` builds a
`FeaturesEncoder`; ``features`` on one side only is refused (the precomputed files are joint).

`with_options` applies ``KEY=VALUE`` options of a command line (``uniav predict --encoder-option``) to a
spec: ``visual.KEY`` / ``audio.KEY`` / ``text.KEY`` go to that part, an unprefixed ``KEY`` to every part
that accepts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_never

from uniav.config import SLOTS, AudioKind, EncoderSpec, PartSpec, TextKind, VisualKind
from uniav.encoders.base import Encoder, EncoderError, MediaFunctions
from uniav.encoders.cache import CachedEncoder, FeatureCache
from uniav.encoders.composite import PartsEncoder
from uniav.encoders.features import FeaturesAudio, FeaturesEncoder, FeaturesVisual
from uniav.encoders.hub_models import HubModels, SharesHubModels
from uniav.encoders.parts import AudioPart, TextPart, VisualPart


def visual_class(kind: VisualKind) -> type[VisualPart] | type[FeaturesVisual]:
    """The class of a visual kind."""
    match VisualKind(kind):
        case VisualKind.SIGNAL:
            from uniav.encoders.signal_parts import SignalVisual

            return SignalVisual
        case VisualKind.EFFNET:
            from uniav.encoders.effnet import EffnetVisual

            return EffnetVisual
        case VisualKind.CLIP:
            from uniav.encoders.clip_parts import ClipVisual

            return ClipVisual
        case VisualKind.FEATURES:
            return FeaturesVisual
        case unreachable:
            assert_never(unreachable)


def audio_class(kind: AudioKind) -> type[AudioPart] | type[FeaturesAudio]:
    """The class of an audio kind."""
    match AudioKind(kind):
        case AudioKind.SIGNAL:
            from uniav.encoders.signal_parts import SignalAudio

            return SignalAudio
        case AudioKind.YAMNET:
            from uniav.encoders.yamnet import YamnetAudio

            return YamnetAudio
        case AudioKind.CLAP:
            from uniav.encoders.clap_parts import ClapAudio

            return ClapAudio
        case AudioKind.FEATURES:
            return FeaturesAudio
        case unreachable:
            assert_never(unreachable)


def text_class(kind: TextKind) -> type[TextPart]:
    """The class of a text kind."""
    match TextKind(kind):
        case TextKind.SIGNAL:
            from uniav.encoders.signal_parts import SignalText

            return SignalText
        case TextKind.MINILM:
            from uniav.encoders.minilm import MiniLMText

            return MiniLMText
        case TextKind.CLIP:
            from uniav.encoders.clip_parts import ClipText

            return ClipText
        case TextKind.CLAP:
            from uniav.encoders.clap_parts import ClapText

            return ClapText
        case TextKind.CLIP_CLAP:
            from uniav.encoders.clip_clap import ClipClapText

            return ClipClapText
        case TextKind.FEATURES:
            from uniav.encoders.stored_text import StoredText

            return StoredText
        case unreachable:
            assert_never(unreachable)


def part_class(slot: str, kind: VisualKind | AudioKind | TextKind) -> type:
    """The class of the part `kind` in `slot` (``visual``, ``audio`` or ``text``)."""
    match slot:
        case "visual":
            return visual_class(VisualKind(kind))
        case "audio":
            return audio_class(AudioKind(kind))
        case "text":
            return text_class(TextKind(kind))
    raise EncoderError(f"unknown encoder slot {slot!r}; expected one of {SLOTS}")


def part_options(slot: str, kind: VisualKind | AudioKind | TextKind) -> frozenset[str]:
    """The options the part `kind` in `slot` accepts."""
    return frozenset(part_class(slot, kind).OPTIONS)


def _build_part(slot: str, part: PartSpec, models: HubModels) -> object:
    """The part `part` of `slot`, its options checked against the part's `OPTIONS` first."""
    cls = part_class(slot, part.kind)
    unknown = sorted(set(part.options) - set(cls.OPTIONS))
    if unknown:
        raise EncoderError(
            f"{slot} encoder {str(part.kind)!r}: unknown option(s) {unknown}; known: {sorted(cls.OPTIONS)}"
        )
    if issubclass(cls, SharesHubModels):
        return cls(part.options, models=models)
    return cls(part.options)


def build_encoder(
    spec: EncoderSpec, *, media: MediaFunctions | None = None, cache: FeatureCache | None = None
) -> Encoder:
    """The encoder of `spec`'s visual, audio and text parts.

    `media` replaces the decoders (`uniav.media` by default); with `cache`, the encoder is wrapped in a
    `CachedEncoder` using it. Unknown options raise `EncoderError` naming the part and the option;
    ``features`` mixed with media parts raises `EncoderError`. Weights load on first use.
    """
    if not isinstance(spec, EncoderSpec):
        raise EncoderError(f"build_encoder expects an EncoderSpec, got {type(spec).__name__}")
    precomputed = (spec.visual.kind is VisualKind.FEATURES, spec.audio.kind is AudioKind.FEATURES)
    if precomputed[0] != precomputed[1]:
        raise EncoderError(
            f"encoder {spec.label}: precomputed 'features' hold the visual and the audio side of the same "
            "videos (cut to a common length) and cannot be mixed with a media encoder; make both visual and "
            "audio 'features', or neither"
        )
    models = HubModels()  # one per encoder: parts naming the same model load it once
    visual, audio, text = (_build_part(slot, part, models) for slot, part in spec.parts.items())
    if not isinstance(text, TextPart):
        raise EncoderError(f"text encoder {str(spec.text.kind)!r}: {type(text).__name__} is not a TextPart")
    encoder: Encoder
    if isinstance(visual, FeaturesVisual) and isinstance(audio, FeaturesAudio):
        encoder = FeaturesEncoder(spec, visual, audio, text)
    elif isinstance(visual, VisualPart) and isinstance(audio, AudioPart):
        encoder = PartsEncoder(spec, visual, audio, text, media=media)
    else:
        raise EncoderError(
            f"encoder {spec.label}: the parts built are {type(visual).__name__} and {type(audio).__name__}"
        )
    return CachedEncoder(encoder, cache) if cache is not None else encoder


def with_options(spec: EncoderSpec, options: Mapping[str, Any]) -> EncoderSpec:
    """`spec` with `options` added (replacing equal keys): ``visual.KEY`` / ``audio.KEY`` / ``text.KEY`` set
    KEY of that part, an unprefixed KEY is set on every part that accepts it. An option no part (or not
    the named part) accepts raises `EncoderError` listing what each part accepts."""
    current = {slot: spec.parts[slot] for slot in SLOTS}
    accepted = {slot: part_options(slot, part.kind) for slot, part in current.items()}
    updates: dict[str, dict[str, Any]] = {slot: {} for slot in SLOTS}
    for key, value in options.items():
        slot, dot, name = str(key).partition(".")
        if dot and slot in SLOTS:
            if name not in accepted[slot]:
                raise EncoderError(
                    f"encoder option {key!r}: the {slot} encoder {str(current[slot].kind)!r} has no option "
                    f"{name!r}; it accepts {sorted(accepted[slot]) or 'none'}"
                )
            updates[slot][name] = value
            continue
        targets = [s for s in SLOTS if key in accepted[s]]
        if not targets:
            known = "; ".join(f"{s} {current[s].kind}: {sorted(accepted[s]) or 'none'}" for s in SLOTS)
            raise EncoderError(
                f"encoder option {key!r}: no part of this encoder accepts it ({known}); prefix an option with "
                "visual., audio. or text. to set it on one part"
            )
        for s in targets:
            updates[s][key] = value
    parts = [PartSpec(current[s].kind, {**current[s].options, **updates[s]}) for s in SLOTS]
    return EncoderSpec(*parts)
