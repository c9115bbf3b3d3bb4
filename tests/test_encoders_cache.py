"""The on-disk feature cache: hits decode nothing, keys separate encoders and grids, bad entries recover."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.encoder_helpers import FakeMedia, MeanColourVisual, RmsAudio, SynthClip, noise, square_frames
from uniav.config import EncoderSpec
from uniav.encoders import (
    CachedEncoder,
    ClipFeatures,
    FeatureCache,
    PartsEncoder,
    build_encoder,
    default_cache_root,
    file_sha256,
)
from uniav.encoders.cache import grid_slug
from uniav.encoders.signal_parts import SignalText
from uniav.media.grid import SnippetGrid

G8, G4 = SnippetGrid(stride=8), SnippetGrid(stride=4)


@pytest.fixture
def clip_file(tmp_path: Path) -> tuple[FakeMedia, Path]:
    """A real file on disk (its bytes are the cache key) whose decoding the fake media backend serves."""
    media = FakeMedia()
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"pretend video bytes " * 100)
    media.add(path, SynthClip(4.0, square_frames(1.5), noise(seconds=4)))
    return media, path


def cached(media: FakeMedia, root: Path, **options) -> CachedEncoder:
    return build_encoder(EncoderSpec.uniform("signal", options), media=media.functions(), cache=FeatureCache(root))


def test_second_run_decodes_nothing(clip_file, tmp_path: Path):
    media, path = clip_file
    first = cached(media, tmp_path / "cache").encode_file(path, [G8, G4])
    assert media.decoder_calls() == 2  # audio + video, once
    media.refuse = True  # from now on any decoder call fails the test
    enc = cached(media, tmp_path / "cache")  # a fresh encoder: nothing in memory
    second = enc.encode_file(path, [G8, G4])
    assert enc.stats.hits == 2 and enc.stats.misses == 0
    for g in (G8, G4):
        assert second[g].visual.tobytes() == first[g].visual.tobytes()
        assert second[g].audio.tobytes() == first[g].audio.tobytes()
        assert (second[g].duration, second[g].has_video, second[g].has_audio, second[g].notes) == (
            first[g].duration,
            first[g].has_video,
            first[g].has_audio,
            first[g].notes,
        )


def test_only_missing_grids_are_encoded(clip_file, tmp_path: Path):
    media, path = clip_file
    enc = cached(media, tmp_path / "cache")
    enc.encode_file(path, [G8])
    media.calls.clear()
    out = enc.encode_file(path, [G8, G4])
    assert [w for w, _ in media.calls if w == "video"] == ["video"]  # one decode, for G4 only
    assert enc.stats.hits == 1 and enc.stats.misses == 2
    assert list(out) == [G8, G4]
    media.refuse = True
    enc.encode_file(path, [G4, G8])


def test_cache_is_keyed_by_content_not_name(clip_file, tmp_path: Path):
    media, path = clip_file
    cached(media, tmp_path / "cache").encode_file(path, [G4])
    copy = tmp_path / "renamed.mkv"
    shutil.copyfile(path, copy)
    media.add(copy, media.clips[str(path)])
    media.refuse = True
    cached(media, tmp_path / "cache").encode_file(copy, [G4])  # same bytes: a hit
    media.refuse = False
    copy.write_bytes(copy.read_bytes() + b"!")  # other bytes: a miss
    media.calls.clear()
    cached(media, tmp_path / "cache").encode_file(copy, [G4])
    assert media.decoder_calls() == 2


def test_cache_key_changes_with_options_and_grid(clip_file, tmp_path: Path):
    media, path = clip_file
    root = tmp_path / "cache"
    a = cached(media, root)
    b = cached(media, root, frame_size=32)
    assert a.cache_key != b.cache_key
    a.encode_file(path, [G4])
    media.calls.clear()
    b.encode_file(path, [G4])  # other options: not served from a's entries
    assert media.decoder_calls() == 2
    sha = file_sha256(path)
    cache = FeatureCache(root)
    assert cache.entry_path(sha, a.cache_key, G4) != cache.entry_path(sha, b.cache_key, G4)
    assert cache.entry_path(sha, a.cache_key, G4) != cache.entry_path(sha, a.cache_key, G8)
    assert grid_slug(SnippetGrid(4)) != grid_slug(SnippetGrid(4, audio_window_s=2.0))
    assert cache.load(sha, a.cache_key, G8) is None


@pytest.mark.parametrize("damage", ["garbage", "truncate", "wrong_key", "empty"])
def test_corrupt_entry_is_ignored_and_rewritten(clip_file, tmp_path: Path, caplog, damage: str):
    media, path = clip_file
    root = tmp_path / "cache"
    good = cached(media, root).encode_file(path, [G4])[G4]
    enc = cached(media, root)
    entry = FeatureCache(root).entry_path(file_sha256(path), enc.cache_key, G4)
    assert entry.is_file()
    data = entry.read_bytes()
    if damage == "garbage":
        entry.write_bytes(b"\x00not a zip file" * 10)
    elif damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        entry.write_bytes(b"")
    else:  # a valid entry, but written for another grid
        other = FeatureCache(root).entry_path(file_sha256(path), enc.cache_key, G8)
        cached(media, root).encode_file(path, [G8])
        shutil.copyfile(other, entry)
    media.calls.clear()
    with caplog.at_level(logging.WARNING, logger="uniav.encoders.cache"):
        again = enc.encode_file(path, [G4])[G4]
    assert "ignoring unreadable feature cache entry" in caplog.text
    assert media.decoder_calls() == 2  # re-encoded
    np.testing.assert_array_equal(again.visual, good.visual)
    # rewritten: the next run is a clean hit
    media.refuse = True
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="uniav.encoders.cache"):
        third = cached(media, root).encode_file(path, [G4])[G4]
    assert caplog.text == ""
    np.testing.assert_array_equal(third.audio, good.audio)


def test_writes_are_atomic(clip_file, tmp_path: Path, monkeypatch):
    media, path = clip_file
    root = tmp_path / "cache"
    good = cached(media, root).encode_file(path, [G4])[G4]
    enc = cached(media, root)
    entry = FeatureCache(root).entry_path(file_sha256(path), enc.cache_key, G4)
    before = entry.read_bytes()

    def failing_savez(f, **arrays):
        f.write(b"half an entry")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        FeatureCache(root).store(file_sha256(path), enc.cache_key, G4, good)
    assert entry.read_bytes() == before  # the old entry is untouched
    assert not list(entry.parent.glob("*.tmp"))  # and no temporary file is left behind
    # a failing cache write does not lose the encoded result
    media.calls.clear()
    out = cached(media, tmp_path / "other-cache").encode_file(path, [G4])[G4]
    np.testing.assert_array_equal(out.visual, good.visual)


def test_real_file_second_run_decodes_nothing(media_dir: Path, tmp_path: Path):
    from uniav.encoders import MediaFunctions

    def refuse(*args, **kwargs):
        raise AssertionError("the decoder was called on a cached file")

    path = media_dir / "big_buck_bunny_30s.webm"
    spec = EncoderSpec.uniform("signal")
    first = build_encoder(spec, cache=FeatureCache(tmp_path)).encode_file(path, [G8, G4])
    assert first[G4].num_snippets == 119 and first[G8].num_snippets == 60
    offline = build_encoder(spec, media=MediaFunctions(refuse, refuse, refuse), cache=FeatureCache(tmp_path))
    second = offline.encode_file(path, [G4, G8])
    assert offline.stats.hits == 2
    for g in (G8, G4):
        assert second[g].visual.tobytes() == first[g].visual.tobytes()
        assert second[g].audio.tobytes() == first[g].audio.tobytes()


def test_default_root_follows_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("UNIAV_CACHE", str(tmp_path / "x"))
    assert default_cache_root() == tmp_path / "x" / "features"
    assert FeatureCache().root == tmp_path / "x" / "features"
    monkeypatch.delenv("UNIAV_CACHE")
    assert default_cache_root() == Path.home() / ".cache" / "uniav" / "features"


def test_missing_file_reports_the_decoder_error(tmp_path: Path):
    from uniav.media.errors import MediaError

    enc = build_encoder(EncoderSpec.uniform("signal"), cache=FeatureCache(tmp_path))
    with pytest.raises(MediaError):
        enc.encode_file(tmp_path / "nope.mp4", [G4])


def test_precomputed_features_bypass_the_cache(tmp_path: Path):
    feat_dir = tmp_path / "feats"
    feat_dir.mkdir()
    np.save(feat_dir / "v1_one_peace_video_finetune.npy", np.ones((5, 4), np.float32))
    np.save(feat_dir / "v1_one_peace_audio.npy", np.ones((5, 4), np.float32))
    spec = EncoderSpec.uniform("features", {"feature_dir": str(feat_dir), "visual_dim": 4, "audio_dim": 4})
    enc = build_encoder(spec, cache=FeatureCache(tmp_path / "cache"))
    out = enc.encode_file("v1", [G4])
    assert out[G4].visual.shape == (5, 4)
    assert not (tmp_path / "cache").exists()
    # an id is not a file: its "content" key is the hash of its name
    assert enc.content_sha("v1") == hashlib.sha256(b"name:v1").hexdigest() != enc.content_sha("v2")


# ---- classifier scores ------------------------------------------------------------------------------


def test_scores_are_cached_with_the_features(clip_file, tmp_path: Path):
    media, path = clip_file
    root = tmp_path / "cache"

    def enc() -> CachedEncoder:
        parts = PartsEncoder(
            EncoderSpec.uniform("signal"), MeanColourVisual(), RmsAudio(), SignalText(), media.functions()
        )
        return CachedEncoder(parts, FeatureCache(root))

    first = enc().encode_file(path, [G8, G4])
    media.refuse = True
    again = enc()
    second = again.encode_file(path, [G4, G8])
    assert again.stats.hits == 2
    assert (again.visual_score_classes, again.audio_score_classes) == (("red", "green", "blue"), ("loud", "quiet"))
    for g in (G8, G4):
        assert first[g].visual_scores is not None and first[g].audio_scores.shape == (first[g].num_snippets, 2)
        assert second[g].visual_scores.tobytes() == first[g].visual_scores.tobytes()
        assert second[g].audio_scores.tobytes() == first[g].audio_scores.tobytes()


def test_entries_of_the_format_before_scores_still_load(tmp_path: Path):
    cache = FeatureCache(tmp_path)
    feats = ClipFeatures(np.ones((3, 2), np.float32), np.zeros((3, 4), np.float32), 1.5, True, False, ("n",))
    path = cache.store("ab" * 32, "key", G4, feats)
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {"visual": z["visual"], "audio": z["audio"]}
    assert meta["format"] == 2 and meta["scores"] == []
    del meta["scores"]
    np.savez(path, **arrays, meta=np.array(json.dumps({**meta, "format": 1})))  # as the earlier release wrote it
    old = cache.load("ab" * 32, "key", G4)
    assert old is not None and old.visual_scores is None and old.audio_scores is None
    np.testing.assert_array_equal(old.visual, feats.visual)
    assert (old.duration, old.has_video, old.has_audio, old.notes) == (1.5, True, False, ("n",))


def test_scores_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match=r"visual_scores must be \(T, n_classes\) with T = 3"):
        ClipFeatures(np.ones((3, 2), np.float32), np.ones((3, 2), np.float32), 1.0, True, True, (), np.ones((2, 5)))
