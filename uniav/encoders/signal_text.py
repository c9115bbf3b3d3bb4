"""A deterministic, weight-free text embedding: hashed character n-grams and words.

A prompt is normalised (lower case, Unicode NFKD with accents dropped, everything but letters and
digits becomes a space), then described by weighted features: every word (weight 1), every pair of
adjacent words (0.5) and the character 3-, 4- and 5-grams of each word padded with a boundary mark
(total weight 1 per word per n, so long words do not dominate); function words ("a", "of", "the", ...)
count a quarter. Each feature is hashed with CRC-32 (stable across runs, machines and Python versions;
`hash()` is salted per process and is not used) to a column and a sign; the vector is L2-normalised.
Strings sharing words or word pieces ("dog barking" / "dog bark") get high cosine, unrelated ones
near zero.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

TEXT_DIM = 512
NGRAM_SIZES = (3, 4, 5)
_WORD_WEIGHT = 1.0
_BIGRAM_WEIGHT = 0.5
_STOP_WEIGHT = 0.25
STOP_WORDS = frozenset(
    ["a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "for", "with", "by", "from", "is", "are"]
)
_NON_ALNUM = re.compile(r"[\W_]+")


def normalise(text: str) -> list[str]:
    """The words of `text` after lower-casing, NFKD without accents and splitting on anything not a letter or digit."""
    t = unicodedata.normalize("NFKD", text.lower())
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    return [w for w in _NON_ALNUM.split(t) if w]


def text_features(text: str) -> dict[str, float]:
    """Weighted hashed-feature names of one string (before hashing)."""
    words = normalise(text)
    feats: dict[str, float] = {}

    def add(key: str, w: float) -> None:
        feats[key] = feats.get(key, 0.0) + w

    for word in words:
        scale = _STOP_WEIGHT if word in STOP_WORDS else 1.0
        add("w:" + word, _WORD_WEIGHT * scale)
        padded = f"<{word}>"
        for n in NGRAM_SIZES:
            grams = [padded[i : i + n] for i in range(max(1, len(padded) - n + 1))]
            for gram in grams:
                add(f"c{n}:{gram}", scale / len(grams))
    for a, b in zip(words, words[1:], strict=False):
        add(f"b:{a} {b}", _BIGRAM_WEIGHT)
    return feats


def embed_texts(texts: Sequence[str], dim: int = TEXT_DIM) -> np.ndarray:
    """(len(texts), dim) float32 L2-normalised embeddings (an empty string gives a zero row)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"prompt {row} is {type(text).__name__}, not str")
        feats = text_features(text)
        if not feats:
            continue
        hashes = np.fromiter((zlib.crc32(k.encode("utf-8")) for k in feats), dtype=np.uint64, count=len(feats))
        weights = np.fromiter(feats.values(), dtype=np.float32, count=len(feats))
        signs = np.where((hashes >> np.uint64(31)) & np.uint64(1), -1.0, 1.0).astype(np.float32)
        np.add.at(out[row], (hashes % np.uint64(dim)).astype(np.int64), signs * weights)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
