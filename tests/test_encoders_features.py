"""The `features` encoder: precomputed ONE-PEACE-style .npy files and stored prompt embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from uniav.config import EncoderSpec, ModelConfig, PartSpec
from uniav.encoders import EncoderError, FeaturesEncoder, PartsEncoder, UnknownPromptError, build_encoder
from uniav.encoders import signal_text as st
from uniav.media.grid import SnippetGrid

G4, G8 = SnippetGrid(stride=4), SnippetGrid(stride=8)
D = 6


@pytest.fixture
def feature_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    d = tmp_path / "feats"
    d.mkdir()
    np.save(d / "vid_A_one_peace_video_finetune.npy", rng.standard_normal((12, D)).astype(np.float64))
    np.save(d / "vid_A_one_peace_audio.npy", rng.standard_normal((10, D)).astype(np.float32))
    return d


def spec(feature_dir: Path, **extra) -> EncoderSpec:
    return EncoderSpec.uniform(
        "features", {"feature_dir": str(feature_dir), "visual_dim": D, "audio_dim": D, "text_dim": 4, **extra}
    )


def test_loads_and_truncates_to_the_shorter_stream(feature_dir: Path):
    enc = build_encoder(spec(feature_dir))
    out = enc.encode_file("vid_A", [G4])
    f = out[G4]
    vis = np.load(feature_dir / "vid_A_one_peace_video_finetune.npy")
    aud = np.load(feature_dir / "vid_A_one_peace_audio.npy")
    assert f.visual.shape == (10, D) and f.audio.shape == (10, D)
    assert f.visual.dtype == np.float32 and f.audio.dtype == np.float32
    np.testing.assert_allclose(f.visual, vis[:10].astype(np.float32))
    np.testing.assert_array_equal(f.audio, aud)
    assert f.has_video and f.has_audio
    # without a durations file the duration puts exactly T snippets on the grid
    assert G4.num_snippets(f.duration) == 10


def test_a_path_named_after_the_id_works(feature_dir: Path):
    enc = build_encoder(spec(feature_dir))
    a = enc.encode_file("/uploads/vid_A.mp4", [G4])[G4]
    b = enc.encode_file(Path("vid_A"), [G4, G8])
    np.testing.assert_array_equal(a.visual, b[G4].visual)
    np.testing.assert_array_equal(b[G8].visual, b[G4].visual)  # one native grid


def test_durations_file_in_activitynet_layout(feature_dir: Path, tmp_path: Path):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"database": {"vid_A": {"subset": "validation", "duration": 2.9, "annotations": []}}}))
    f = build_encoder(spec(feature_dir, durations=str(ann))).encode_file("vid_A", [G4])[G4]
    assert f.duration == pytest.approx(2.9)


def test_missing_files_and_bad_shapes_are_clear_errors(feature_dir: Path, tmp_path: Path):
    enc = build_encoder(spec(feature_dir))
    with pytest.raises(EncoderError, match=r"no precomputed features for video 'vid_B'.*vid_B_one_peace_video"):
        enc.encode_file("vid_B.mp4", [G4])
    wrong = build_encoder(spec(feature_dir, visual_dim=1536))
    with pytest.raises(EncoderError, match=r"shape \(12, 6\), expected \(T, 1536\)"):
        wrong.encode_file("vid_A", [G4])
    with pytest.raises(EncoderError, match="stride 8"):
        build_encoder(spec(feature_dir, stride=8)).encode_file("vid_A", [G4])
    with pytest.raises(ValueError, match=r"encoder 'features': unknown option\(s\) \['feature_folder'\]"):
        EncoderSpec.uniform("features", {"feature_folder": "x"})
    with pytest.raises(EncoderError, match=r"audio encoder 'features': unknown option\(s\) \['video_suffix'\]"):
        build_encoder(EncoderSpec("features", PartSpec("features", {"video_suffix": "_v.npy"}), "features"))


def test_paper_preset_spec_builds_and_asks_for_the_folder():
    enc = build_encoder(ModelConfig.preset("paper").encoder)
    assert (enc.visual_dim, enc.audio_dim, enc.text_dim) == (1536, 1536, 1536)
    with pytest.raises(EncoderError, match="needs options\\['feature_dir'\\]"):
        enc.encode_file("vid", [G4])


@pytest.fixture
def prompt_files(tmp_path: Path) -> dict[str, str]:
    d = tmp_path / "prompts"
    d.mkdir()
    sed = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.save(d / "dcase_prompt.npy", sed)
    (d / "dcase_prompt.txt").write_text("A sound event of Dog.\nA sound event of Speech.\n")
    tal = np.arange(12, dtype=np.float32).reshape(3, 4) + 100
    np.save(d / "anet_prompt.npy", tal)
    (d / "anet_prompt.json").write_text(
        json.dumps({"labels": ["Archery", "Surfing", "Dog"], "template": "A visual event of {label}."})
    )
    return {"SED": str(d / "dcase_prompt.npy"), "TAL": str(d / "anet_prompt.npy")}


def test_known_prompts_map_to_their_rows(feature_dir: Path, prompt_files):
    enc = build_encoder(spec(feature_dir, text_embeddings=prompt_files))
    e = enc.encode_text(["A visual event of Surfing.", "A sound event of Dog.", "A  sound event of  Speech. "])
    np.testing.assert_array_equal(e, [[104, 105, 106, 107], [0, 1, 2, 3], [4, 5, 6, 7]])
    assert e.dtype == np.float32
    assert len(enc.known_prompts()) == 5


def test_unknown_prompt_error_names_the_prompt(feature_dir: Path, prompt_files):
    enc = build_encoder(spec(feature_dir, text_embeddings=prompt_files))
    with pytest.raises(UnknownPromptError, match="'A sound event of cat meowing.'") as info:
        enc.encode_text(["A sound event of Dog.", "A sound event of cat meowing."])
    assert "5 known" in str(info.value) and "dcase_prompt.npy" in str(info.value)
    no_files = build_encoder(spec(feature_dir))
    with pytest.raises(UnknownPromptError, match="no text_embeddings files"):
        no_files.encode_text(["anything"])


def test_prompt_list_must_exist_and_match(feature_dir: Path, tmp_path: Path):
    np.save(tmp_path / "p.npy", np.zeros((3, 4), np.float32))
    enc = build_encoder(spec(feature_dir, text_embeddings={"SED": str(tmp_path / "p.npy")}))
    with pytest.raises(EncoderError, match="no prompt list: write p.txt"):
        enc.encode_text(["x"])
    (tmp_path / "p.txt").write_text("one\ntwo\n")
    enc = build_encoder(spec(feature_dir, text_embeddings={"SED": str(tmp_path / "p.npy")}))
    with pytest.raises(EncoderError, match="lists 2 prompts but .* has 3 rows"):
        enc.encode_text(["one"])


# ---- parts: the joint visual/audio files, any text part ---------------------------------------------


def test_uniform_options_go_to_the_parts_that_read_them(feature_dir: Path):
    s = spec(feature_dir, durations="d.json")
    assert s.visual.options == {"feature_dir": str(feature_dir), "visual_dim": D, "durations": "d.json"}
    assert s.audio.options == {"feature_dir": str(feature_dir), "audio_dim": D, "durations": "d.json"}
    assert s.text.options == {"text_dim": 4}
    assert isinstance(build_encoder(s), FeaturesEncoder)


def test_features_cannot_be_mixed_with_media_parts(feature_dir: Path):
    for visual, audio in (("features", "signal"), ("signal", "features")):
        with pytest.raises(EncoderError, match="cannot be mixed with a media encoder; make both visual and audio"):
            build_encoder(EncoderSpec(visual, audio, "signal"))


def test_features_with_an_embedding_text_part(feature_dir: Path):
    base = spec(feature_dir)
    enc = build_encoder(EncoderSpec(base.visual, base.audio, "signal"))
    assert isinstance(enc, FeaturesEncoder) and enc.text_dim == 512
    np.testing.assert_array_equal(enc.encode_text(["a dog"]), st.embed_texts(["a dog"]))
    with pytest.raises(EncoderError, match="embeds any prompt: it keeps no list"):
        enc.known_prompts()


def test_stored_prompt_embeddings_serve_media_parts(prompt_files):
    """The `features` text part alone: stored embeddings with signal visual and audio."""
    enc = build_encoder(
        EncoderSpec("signal", "signal", PartSpec("features", {"text_embeddings": prompt_files, "text_dim": 4}))
    )
    assert isinstance(enc, PartsEncoder) and enc.text_dim == 4
    np.testing.assert_array_equal(enc.encode_text(["A sound event of Speech."]), [[4, 5, 6, 7]])
    with pytest.raises(UnknownPromptError, match="'cat'"):
        enc.encode_text(["cat"])


def test_visual_and_audio_may_read_other_folders_but_must_agree_on_shared_options(feature_dir: Path, tmp_path: Path):
    other = tmp_path / "audio-feats"
    other.mkdir()
    np.save(other / "x_vid_A.npy", np.full((7, 3), 2.0, np.float32))
    enc = build_encoder(
        EncoderSpec(
            PartSpec("features", {"feature_dir": str(feature_dir), "visual_dim": D, "stride": 4}),
            PartSpec("features", {"feature_dir": str(other), "prefix": "x_", "audio_suffix": ".npy", "audio_dim": 3}),
            PartSpec("features", {"text_dim": 4}),
        )
    )
    f = enc.encode_file("vid_A", [G4])[G4]
    assert f.visual.shape == (7, D) and f.audio.shape == (7, 3) and (f.audio == 2.0).all()
    np.testing.assert_allclose(
        f.visual, np.load(feature_dir / "vid_A_one_peace_video_finetune.npy")[:7].astype(np.float32)
    )
    with pytest.raises(EncoderError, match="stride 4"):
        enc.encode_file("vid_A", [G8])
    clash = EncoderSpec(PartSpec("features", {"stride": 4}), PartSpec("features", {"stride": 8}), "features")
    with pytest.raises(EncoderError, match=r"disagree on \['stride'\]"):
        build_encoder(clash)
