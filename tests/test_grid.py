"""The snippet grid (uniav.media.grid): centres, counts, frame and audio windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uniav.data.transforms import grid_to_seconds, seconds_to_grid
from uniav.media import SnippetGrid, audio_windows, probe_media
from uniav.media.video import expected_frame_count
from uniav.ops.decode import GridTiming

TAL = SnippetGrid(stride=8)
AVEL = SnippetGrid(stride=4)


@pytest.mark.parametrize("kwargs", [{"stride": 0}, {"stride": 4, "num_frames": 0}, {"stride": 4, "fps": 0.0}])
def test_invalid_grid_raises(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SnippetGrid(**kwargs)


def test_centres_follow_the_official_formula() -> None:
    # centre of snippet t is (t * stride + 8) / 16 seconds
    np.testing.assert_allclose(TAL.centres(4), [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(AVEL.centres(4), [0.5, 0.75, 1.0, 1.25])
    assert (TAL.step_seconds, AVEL.step_seconds) == (0.5, 0.25)


def test_num_snippets_counts_centres_inside_the_clip() -> None:
    assert TAL.num_snippets(2.0) == 3  # centres 0.5, 1.0, 1.5; 2.0 is not inside [0, 2)
    assert TAL.num_snippets(2.01) == 4
    assert AVEL.num_snippets(0.1) == 1 and TAL.num_snippets(0.0) == 1  # at least one
    durations = np.random.default_rng(0).uniform(0.0, 60.0, 500)
    for grid in (TAL, AVEL):
        centres = grid.centres(2000)
        brute = np.maximum(1, (centres[None, :] < durations[:, None]).sum(axis=1))
        got = np.array([grid.num_snippets(float(d)) for d in durations])
        np.testing.assert_array_equal(got, brute)


def test_frame_indices_are_clipped_to_the_decoded_frames() -> None:
    idx = AVEL.frame_indices(3, num_decoded_frames=20)
    assert idx.shape == (3, 16)
    np.testing.assert_array_equal(idx[0], np.arange(16))
    np.testing.assert_array_equal(idx[1], np.arange(4, 20))
    np.testing.assert_array_equal(idx[2], np.minimum(np.arange(8, 24), 19))  # last frame repeated
    assert not AVEL.frame_indices(2, num_decoded_frames=0).any()


def test_audio_bounds_are_one_second_around_the_centre() -> None:
    np.testing.assert_array_equal(AVEL.audio_bounds(3, 16000), [[0, 16000], [4000, 20000], [8000, 24000]])
    half = SnippetGrid(stride=4, num_frames=8)  # centre 0.25 s: its window starts before the clip
    np.testing.assert_array_equal(half.audio_bounds(1, 16000), [[-4000, 12000]])


def test_audio_windows_zero_pad_outside_the_signal() -> None:
    wave = np.arange(1, 20001, dtype=np.float32)  # sample i holds i + 1, so 0 marks padding
    windows = audio_windows(wave, AVEL, 4, 16000)
    assert windows.shape == (4, 16000) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[0], wave[:16000])
    np.testing.assert_array_equal(windows[1], wave[4000:20000])
    np.testing.assert_array_equal(windows[2, :12000], wave[8000:20000])
    assert not windows[2, 12000:].any() and not windows[3, 8000:].any()
    early = audio_windows(wave, SnippetGrid(stride=4, num_frames=8), 2, 16000)
    assert not early[0, :4000].any()
    np.testing.assert_array_equal(early[0, 4000:], wave[:12000])


def test_seconds_and_grid_units_round_trip() -> None:
    t = np.arange(10, dtype=np.float64)
    for grid in (TAL, AVEL):
        timing = GridTiming(grid.stride, grid.num_frames, grid.fps, duration=1e9)
        np.testing.assert_allclose(seconds_to_grid(grid.centres(10), timing), t)
        np.testing.assert_allclose(
            grid_to_seconds(seconds_to_grid(np.array([0.0, 3.3, 7.9]), timing), timing), [0, 3.3, 7.9]
        )


def test_grid_on_a_real_clip_stays_inside_its_frames(media_dir: Path) -> None:
    info = probe_media(media_dir / "chaplin.mp4")  # 9.64 s
    frames = expected_frame_count(info.duration, TAL.fps)
    num = TAL.num_snippets(info.duration)
    assert (frames, num) == (155, 19)
    idx = TAL.frame_indices(num, frames)
    assert idx.max() == frames - 1 and TAL.centres(num)[-1] < info.duration
