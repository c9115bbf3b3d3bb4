"""The CLIP and CLAP parts (the `clip-clap` encoder) end to end on tiny random-weight models built here, offline;
their numbers against the models called directly; parts mixed with the `signal` parts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.encoder_helpers import FakeMedia, SynthClip, to_uint8, tone
from uniav.config import EncoderSpec, PartSpec
from uniav.encoders import NOTE_NO_AUDIO, EncoderError, PartsEncoder, build_encoder
from uniav.encoders import signal_visual as sv
from uniav.encoders.hub_models import HubFamily
from uniav.media.grid import SnippetGrid

G8, G4 = SnippetGrid(stride=8), SnippetGrid(stride=4)
WORDS = ["a", "an", "visual", "audio", "sound", "event", "of", "dog", "barking", "car", "horn", "the", "cat"]
CLIP_PROJ, CLAP_PROJ = 24, 20


def _bpe_files(folder: Path, end_of_word: str, prefix: str, specials: list[str]) -> tuple[Path, Path]:
    """A tiny byte-level BPE vocabulary: special tokens, single characters and merges that build each word."""
    chars = sorted({ch for w in WORDS for ch in w + w.upper()} | set(".,"))
    vocab: dict[str, int] = {}
    for tok in specials + ([prefix] if prefix else []) + chars + [c + end_of_word for c in chars]:
        vocab.setdefault(tok, len(vocab))
    merges = []
    for word in WORDS + [w.capitalize() for w in WORDS]:
        pieces = ([prefix] if prefix else []) + list(word)
        pieces[-1] = pieces[-1] + end_of_word
        while len(pieces) > 1:
            merged = pieces[0] + pieces[1]
            if f"{pieces[0]} {pieces[1]}" not in merges:
                merges.append(f"{pieces[0]} {pieces[1]}")
            vocab.setdefault(merged, len(vocab))
            pieces = [merged, *pieces[2:]]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return folder / "vocab.json", folder / "merges.txt"


def build_tiny_clip(folder: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    vocab, merges = _bpe_files(folder / "tok", "</w>", "", ["<|startoftext|>", "<|endoftext|>"])
    tok = CLIPTokenizer(vocab=str(vocab), merges=str(merges))
    cfg = CLIPConfig(
        text_config=dict(
            vocab_size=len(tok) + 2,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=CLIP_PROJ,
    )
    import torch

    torch.manual_seed(0)
    model = CLIPModel(cfg).eval()
    proc = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tok,
    )
    model.save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder


def build_tiny_clap(folder: Path) -> Path:
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    vocab, merges = _bpe_files(folder / "tok", "", "Ġ", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok = RobertaTokenizer(vocab=str(vocab), merges=str(merges))
    cfg = ClapConfig(
        text_config=dict(
            vocab_size=len(tok) + 2,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=80,
            projection_dim=CLAP_PROJ,
            pad_token_id=tok.pad_token_id,
        ),
        audio_config=dict(
            spec_size=64,
            patch_size=4,
            patch_stride=(4, 4),
            num_mel_bins=16,
            depths=[1, 1],
            num_attention_heads=[2, 2],
            window_size=4,
            hidden_size=32,
            patch_embeds_hidden_size=16,
            enable_fusion=False,
            projection_dim=CLAP_PROJ,
        ),
        projection_dim=CLAP_PROJ,
    )
    import torch

    torch.manual_seed(1)
    model = ClapModel(cfg).eval()
    fe = ClapFeatureExtractor(
        feature_size=16,
        sampling_rate=48000,
        hop_length=480,
        max_length_s=1,
        fft_window_size=256,
        truncation="rand_trunc",
        padding="repeatpad",
    )
    ClapProcessor(feature_extractor=fe, tokenizer=tok).save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tiny-hf")
    return {"clip_model": str(build_tiny_clip(root / "clip")), "clap_model": str(build_tiny_clap(root / "clap"))}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def index_frames(k: int, w: int, h: int) -> np.ndarray:
    """Frame k is a distinct pattern (so which frame a snippet used is visible in its embedding)."""
    ys, xs = np.mgrid[0:h, 0:w]
    img = 0.5 + 0.5 * np.stack([np.sin(xs / (2 + k % 7)), np.cos(ys / (3 + k % 5)), np.sin((xs + ys + k) / 4)], -1)
    return to_uint8(img)


def make_encoder(tiny_models, media: FakeMedia | None = None, **options) -> PartsEncoder:
    return build_encoder(
        EncoderSpec.uniform("clip-clap", {**tiny_models, **options}), media=media.functions() if media else None
    )


def encode(tiny_models, clip: SynthClip, grids=(G8, G4), **options):
    media = FakeMedia()
    path = media.add("/virtual/clip.mp4", clip)
    enc = make_encoder(tiny_models, media, **options)
    return enc.encode_file(path, list(grids)), media, enc


def test_widths_come_from_the_model_configs(tiny_models):
    enc = make_encoder(tiny_models)
    assert (enc.visual_dim, enc.audio_dim, enc.text_dim) == (CLIP_PROJ, CLAP_PROJ, CLIP_PROJ + CLAP_PROJ)
    assert make_encoder(tiny_models, text="clap").text_dim == CLAP_PROJ
    assert make_encoder(tiny_models, text="clip").text_dim == CLIP_PROJ


def test_encode_file_shapes_norms_and_shared_snippets(tiny_models):
    out, media, _ = encode(tiny_models, SynthClip(3.0, index_frames, tone(440.0, seconds=3.0)))
    for g, f in out.items():
        n = g.num_snippets(3.0)
        assert f.visual.shape == (n, CLIP_PROJ) and f.audio.shape == (n, CLAP_PROJ)
        assert f.visual.dtype == np.float32 and f.audio.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(f.visual, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(f.audio, axis=1), 1.0, atol=1e-5)
    # stride-8 snippet t and stride-4 snippet 2t share centre frame and audio window
    n8 = out[G8].num_snippets
    np.testing.assert_allclose(out[G4].visual[: 2 * n8 : 2], out[G8].visual, atol=1e-6)
    np.testing.assert_allclose(out[G4].audio[: 2 * n8 : 2], out[G8].audio, atol=1e-6)
    # one decode; frames decoded with the shorter side at the processor's 32 px, aspect kept (96x64 source)
    assert [w for w, _ in media.calls] == ["probe", "audio", "video"]
    assert media.video_sizes == [(48, 32)]


def test_each_snippet_uses_its_centre_frame(tiny_models):
    out, _, enc = encode(tiny_models, SynthClip(3.0, index_frames, tone(440.0, seconds=3.0)), grids=[G4])
    n = out[G4].num_snippets
    centre = np.minimum(np.arange(n) * 4 + 8, 47)  # 48 frames decoded; later centres repeat the last
    direct = enc.visual.embed_frames(np.stack([index_frames(int(k), 48, 32) for k in centre]))
    np.testing.assert_allclose(out[G4].visual, direct, atol=1e-5)
    assert not np.allclose(out[G4].visual[0], out[G4].visual[1], atol=1e-3)


def test_audio_windows_are_the_snippets_seconds(tiny_models):
    sr = 48000
    wave = np.random.default_rng(0).standard_normal(3 * sr).astype(np.float32) * 0.1
    out, _, enc = encode(tiny_models, SynthClip(3.0, index_frames, lambda _: wave), grids=[G8])
    # snippet 1 of stride 8 is centred at 1.0 s: its window is [0.5, 1.5) s
    direct = enc.audio.embed_audio(wave[None, sr // 2 : sr * 3 // 2])
    np.testing.assert_allclose(out[G8].audio[1], direct[0], atol=1e-5)


def test_deterministic_and_frames_per_snippet_option(tiny_models):
    clip = SynthClip(2.0, index_frames, tone(300.0, seconds=2.0))
    a, _, _ = encode(tiny_models, clip)
    b, _, _ = encode(tiny_models, clip)
    c, _, enc4 = encode(tiny_models, clip, frames_per_snippet=4)
    assert a[G4].visual.tobytes() == b[G4].visual.tobytes()
    assert a[G4].audio.tobytes() == b[G4].audio.tobytes()
    assert not np.allclose(a[G4].visual, c[G4].visual, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(c[G4].visual, axis=1), 1.0, atol=1e-5)
    assert enc4.cache_key != make_encoder(tiny_models).cache_key
    assert make_encoder(tiny_models, device="cpu", batch_size=3).cache_key == make_encoder(tiny_models).cache_key
    # batch size does not change the numbers
    d, _, _ = encode(tiny_models, clip, batch_size=3)
    np.testing.assert_allclose(d[G4].visual, a[G4].visual, atol=1e-5)
    np.testing.assert_allclose(d[G4].audio, a[G4].audio, atol=1e-5)


def test_missing_tracks(tiny_models):
    out, _, _ = encode(tiny_models, SynthClip(2.0, index_frames, None))
    f = out[G4]
    assert not f.has_audio and NOTE_NO_AUDIO in f.notes
    assert np.allclose(f.audio, f.audio[0]) and f.audio.shape == (f.num_snippets, CLAP_PROJ)
    out, media, _ = encode(tiny_models, SynthClip(2.0, None, tone(500.0, seconds=2.0)))
    assert not out[G4].visual.any() and out[G4].audio.any()
    assert "video" not in [w for w, _ in media.calls]


def test_encode_text(tiny_models):
    enc = make_encoder(tiny_models)
    prompts = ["A sound event of dog barking.", "A sound event of car horn.", "An audio visual event of cat."]
    e = enc.encode_text(prompts)
    assert e.shape == (3, CLIP_PROJ + CLAP_PROJ) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    # each half is the normalised embedding of one model, scaled by 1/sqrt(2)
    np.testing.assert_allclose(np.linalg.norm(e[:, :CLIP_PROJ], axis=1), 2**-0.5, atol=1e-5)
    clip_only = make_encoder(tiny_models, text="clip").encode_text(prompts)
    np.testing.assert_allclose(clip_only, e[:, :CLIP_PROJ] * 2**0.5, atol=1e-5)
    assert e.tobytes() == enc.encode_text(prompts).tobytes()
    assert not np.allclose(e[0], e[1], atol=1e-3)


def test_real_file_end_to_end(tiny_models, media_dir: Path):
    from uniav.media.probe import probe_media

    path = media_dir / "chaplin.mp4"
    enc = make_encoder(tiny_models)
    out = enc.encode_file(path, [G8, G4])
    dur = probe_media(path).duration
    for g, f in out.items():
        assert f.num_snippets == g.num_snippets(dur)
        assert np.isfinite(f.visual).all() and np.isfinite(f.audio).all()
        np.testing.assert_allclose(np.linalg.norm(f.visual, axis=1), 1.0, atol=1e-5)


def test_bad_options_and_missing_models(tmp_path: Path):
    with pytest.raises(ValueError, match=r"encoder 'clip-clap': unknown option\(s\) \['clip'\]"):
        EncoderSpec.uniform("clip-clap", {"clip": "x"})
    with pytest.raises(ValueError, match="text must be one of"):
        EncoderSpec.uniform("clip-clap", {"text": "both"})
    with pytest.raises(EncoderError, match=r"audio encoder 'clap': unknown option\(s\) \['frames_per_snippet'\]"):
        build_encoder(EncoderSpec("clip", PartSpec("clap", {"frames_per_snippet": 2}), "clip"))
    with pytest.raises(EncoderError, match="visual encoder 'clip': batch_size must be an integer >= 1"):
        build_encoder(EncoderSpec(PartSpec("clip", {"batch_size": 0}), "clap", "clip"))
    missing = str(tmp_path / "missing")
    enc = build_encoder(EncoderSpec.uniform("clip-clap", {"clip_model": missing, "clap_model": missing}))
    with pytest.raises(EncoderError, match="could not load the CLIP config"):
        _ = enc.visual_dim


# ---- against the models called directly (the numbers of the single-kind clip-clap encoder) --------------


def _direct_models(tiny_models):
    from transformers import ClapModel, ClapProcessor, CLIPModel, CLIPProcessor

    clip = (
        CLIPModel.from_pretrained(tiny_models["clip_model"]).eval(),
        CLIPProcessor.from_pretrained(tiny_models["clip_model"]),
    )
    clap = (
        ClapModel.from_pretrained(tiny_models["clap_model"]).eval(),
        ClapProcessor.from_pretrained(tiny_models["clap_model"]),
    )
    return clip, clap


def _unit(x):
    import torch

    return torch.nn.functional.normalize(x.pooler_output.float(), dim=-1).numpy()


def test_numbers_match_the_models_called_directly(tiny_models):
    import torch

    (clip, clip_proc), (clap, clap_proc) = _direct_models(tiny_models)
    sr = 48000
    wave = np.random.default_rng(3).standard_normal(3 * sr).astype(np.float32) * 0.1
    out, _, enc = encode(tiny_models, SynthClip(3.0, index_frames, lambda _: wave), grids=[G8])
    n = out[G8].num_snippets
    centre = np.minimum(np.arange(n) * 8 + 8, 47)
    bounds = G8.audio_bounds(n, sr)
    padded = np.pad(wave, (sr, sr))
    windows = np.stack([padded[a + sr : b + sr] for a, b in bounds])
    prompts = ["A sound event of dog barking.", "An audio visual event of cat."]
    with torch.no_grad():
        pixels = clip_proc.image_processor(images=[index_frames(int(k), 48, 32) for k in centre], return_tensors="pt")[
            "pixel_values"
        ]
        visual = _unit(clip.get_image_features(pixel_values=pixels))
        audio = _unit(
            clap.get_audio_features(**clap_proc.feature_extractor(list(windows), sampling_rate=sr, return_tensors="pt"))
        )
        halves = []
        for model, proc in ((clip, clip_proc), (clap, clap_proc)):
            tok = proc.tokenizer(prompts, padding=True, truncation=True, return_tensors="pt")
            halves.append(
                _unit(model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]))
            )
    np.testing.assert_allclose(out[G8].visual, visual, atol=1e-5)
    np.testing.assert_allclose(out[G8].audio, audio, atol=1e-5)
    np.testing.assert_allclose(enc.encode_text(prompts), np.concatenate(halves, axis=1) / np.sqrt(2), atol=1e-6)


def test_clip_and_clap_load_once_for_visual_audio_and_text(tiny_models):
    out, _, enc = encode(tiny_models, SynthClip(2.0, index_frames, tone(300.0, seconds=2.0)))
    enc.encode_text(["dog barking"])
    models = enc.visual.models
    assert enc.audio.models is models and enc.text.clip.models is models and enc.text.clap.models is models
    assert sorted(family for family, _, _ in models.loaded) == [HubFamily.CLAP, HubFamily.CLIP]


# ---- mixed with the signal parts ------------------------------------------------------------------


def test_signal_visual_clap_audio_clip_text_on_a_real_clip(tiny_models, media_dir: Path):
    from uniav.media.audio import decode_audio
    from uniav.media.probe import probe_media

    spec = EncoderSpec(
        "signal",
        PartSpec("clap", {"clap_model": tiny_models["clap_model"]}),
        PartSpec("clip", {"clip_model": tiny_models["clip_model"]}),
    )
    enc = build_encoder(spec)
    signal = build_encoder(EncoderSpec.uniform("signal"))
    path = media_dir / "chaplin.mp4"
    out = enc.encode_file(path, [G8, G4])
    ref = signal.encode_file(path, [G8, G4])
    info = probe_media(path)
    assert (enc.visual_dim, enc.audio_dim, enc.text_dim) == (sv.VISUAL_DIM, CLAP_PROJ, CLIP_PROJ)
    wave = decode_audio(path, sample_rate=48000, info=info).waveform
    for g in (G8, G4):
        f = out[g]
        assert f.num_snippets == g.num_snippets(info.duration)
        assert f.visual.tobytes() == ref[g].visual.tobytes()  # the signal part's numbers, whatever the others
        starts = g.audio_bounds(f.num_snippets, 48000)[:2, 0]
        direct = enc.audio.embed_audio(np.stack([np.pad(wave, (48000, 48000))[s + 48000 : s + 96000] for s in starts]))
        np.testing.assert_allclose(f.audio[:2], direct, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(f.audio, axis=1), 1.0, atol=1e-5)
        assert f.visual_scores is None and f.audio_scores is None
    text = enc.encode_text(["dog barking", "car horn"])
    assert text.shape == (2, CLIP_PROJ)
    np.testing.assert_allclose(
        text, make_encoder(tiny_models, text="clip").encode_text(["dog barking", "car horn"]), atol=1e-6
    )
    assert enc.cache_key != signal.cache_key and enc.cache_key.startswith(signal.cache_key.split(";")[0])
    assert [family for family, _, _ in enc.audio.models.loaded] == [HubFamily.CLAP, HubFamily.CLIP]


def test_clap_audio_resamples_what_the_decoder_gives(tiny_models):
    """A decoder that returns 16 kHz audio: the encoder resamples it to CLAP's 48 kHz itself."""
    import torch
    import torchaudio

    media = FakeMedia()
    clip = SynthClip(2.0, None, tone(700.0, seconds=2.0))
    path = media.add("/virtual/a.wav", clip)
    fixed = media.decode_audio
    media.decode_audio = lambda p, sample_rate=16000, info=None: fixed(p, 16000, info)  # ignores the rate asked
    enc = build_encoder(
        EncoderSpec("signal", PartSpec("clap", {"clap_model": tiny_models["clap_model"]}), "signal"),
        media=media.functions(),
    )
    got = enc.encode_file(path, [G8])[G8].audio
    wave48 = torchaudio.functional.resample(torch.from_numpy(clip.audio_fn(16000)[:32000]), 16000, 48000).numpy()
    starts = G8.audio_bounds(len(got), 48000)[:, 0]
    padded = np.pad(wave48, (48000, 48000))
    direct = enc.audio.embed_audio(np.stack([padded[s + 48000 : s + 96000] for s in starts]))
    np.testing.assert_allclose(got, direct, atol=1e-5)
