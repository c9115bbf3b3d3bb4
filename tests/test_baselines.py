"""The training-free bridge: class weights by text similarity, runs -> segments, the detector on features."""

from __future__ import annotations

import numpy as np
import pytest

from uniav.baselines.bridge import ClassBridge, sigmoid_scores, softmax_scores
from uniav.baselines.detector import BridgeDetector
from uniav.baselines.segments import decode_probabilities, run_candidates
from uniav.config import DecodeConfig, TaskConfig
from uniav.encoders import ClipFeatures
from uniav.ops.decode import GridTiming
from uniav.vocabularies import Vocabulary

# a toy text space: each name is one axis, a label a mix of axes
AXES = ("Dog", "Bark", "Car", "Horn", "Cat")


def toy_text(prompts):
    out = np.zeros((len(prompts), len(AXES)))
    for i, p in enumerate(prompts):
        for j, name in enumerate(AXES):
            out[i, j] = float(name.lower() in p.lower())
    out[out.sum(axis=1) == 0] = 0.01
    return out


def test_weights_follow_text_similarity():
    bridge = ClassBridge.build(AXES, toy_text, top=2, temperature=0.1)
    w = bridge.weights(toy_text(["dog bark", "car horn"]))
    assert w.shape == (2, len(AXES)) and np.allclose(w.sum(axis=1), 1.0)
    assert set(np.flatnonzero(w[0])) == {0, 1} and set(np.flatnonzero(w[1])) == {2, 3}
    assert bridge.nearest(toy_text(["a cat"])) == ["Cat"]


def test_label_scores_are_weighted_class_probabilities():
    bridge = ClassBridge.build(AXES, toy_text, top=1, temperature=0.1)
    probs = np.array([[0.9, 0.1, 0.0, 0.0, 0.2], [0.1, 0.0, 0.8, 0.7, 0.0]])
    scores = bridge.label_scores(probs, toy_text(["dog", "car"]))
    np.testing.assert_allclose(scores, [[0.9, 0.0], [0.1, 0.8]])


def test_classifier_probabilities():
    np.testing.assert_allclose(sigmoid_scores(np.array([[0.0]])), [[0.5]])
    p = softmax_scores(np.array([[1.0, 1.0, 1000.0]]))
    np.testing.assert_allclose(p.sum(), 1.0) and np.testing.assert_allclose(p[0, 2], 1.0)


def test_runs_become_candidates_at_every_threshold():
    # one label: a plateau at 0.95 over steps 2-4 inside a shoulder at 0.35 over steps 1-5
    probs = np.array([[0.0, 0.35, 0.95, 0.95, 0.95, 0.35, 0.0]]).T
    segs, scores, labels = run_candidates(probs, thresholds=(0.3, 0.9))
    pairs = sorted(zip(map(tuple, segs.tolist()), scores.round(4).tolist(), strict=True))
    assert pairs == [((0.5, 5.5), round((0.35 * 2 + 0.95 * 3) / 5, 4)), ((1.5, 4.5), 0.95)]
    assert labels.tolist() == [0, 0]
    # the same run found at several thresholds comes out once
    segs2, _, _ = run_candidates(probs, thresholds=(0.5, 0.6, 0.9))
    assert segs2.tolist() == [[1.5, 4.5]]


def test_decoding_gives_seconds_on_the_task_grid():
    probs = np.zeros((40, 2))
    probs[8:20, 1] = 0.8
    timing = GridTiming(feat_stride=4, num_frames=16, fps=16.0, duration=10.0)
    segs, scores, labels = decode_probabilities(probs, timing, DecodeConfig(), sigma=0.4)
    assert labels[0] == 1 and scores[0] == pytest.approx(0.8)
    # steps 8..19 -> grid units [7.5, 19.5] -> seconds (t * 4 + 8) / 16
    np.testing.assert_allclose(segs[0], [(7.5 * 4 + 8) / 16, (19.5 * 4 + 8) / 16])
    assert (labels == 0).sum() == 0  # a label that never fires gives nothing


class _ScoredEncoder:
    audio_score_classes = AXES
    visual_score_classes = AXES


def _features(audio_logits, visual_logits=None) -> ClipFeatures:
    n = audio_logits.shape[0]
    return ClipFeatures(
        visual=np.zeros((n, 2), np.float32),
        audio=np.zeros((n, 2), np.float32),
        duration=(n * 4 + 8) / 16,
        has_video=True,
        has_audio=True,
        audio_scores=audio_logits.astype(np.float32),
        visual_scores=None if visual_logits is None else visual_logits.astype(np.float32),
    )


def test_bridge_detector_finds_the_bridged_label_and_avel_needs_both_halves():
    tasks = [
        TaskConfig("SED", ("dog",), class_aware=True, max_seq_len=64, feat_stride=4),
        TaskConfig("AVEL", ("dog",), class_aware=True, max_seq_len=64, feat_stride=4),
    ]
    det = BridgeDetector(_ScoredEncoder(), toy_text, tasks)
    audio = np.full((30, len(AXES)), -8.0)
    audio[10:20, :2] = 6.0  # "Dog" and "Bark" heard on steps 10-19
    sed = det.detect_all(_features(audio), Vocabulary("SED", ("dog barking",)))
    best = max(sed.detections, key=lambda d: d.score)
    assert best.label == "dog barking" and best.start == pytest.approx((9.5 * 4 + 8) / 16)
    # AVEL: heard but not seen scores low; seen and heard scores high
    unseen = np.full((30, len(AXES)), 0.0)
    unseen[:, 2] = 12.0  # a car on screen the whole time
    seen = unseen.copy()
    seen[10:20, :3] = (12.0, 12.0, 0.0)  # then a dog instead
    v = Vocabulary("AVEL", ("dog barking",))
    low = max((d.score for d in det.detect_all(_features(audio, unseen), v).detections), default=0.0)
    high = max(d.score for d in det.detect_all(_features(audio, seen), v).detections)
    assert high > 0.65 > 0.1 > low
    with pytest.raises(ValueError, match="bridge detects SED, AVEL, not TAL"):
        BridgeDetector(_ScoredEncoder(), toy_text, [TaskConfig("TAL", ("x",), class_aware=False, max_seq_len=64)])
