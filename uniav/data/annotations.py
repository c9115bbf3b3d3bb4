"""Ground-truth annotations and detection files in the ActivityNet JSON layout.

Ground truth (ActivityNet 1.3, UnAV-100 and DESED as used by the official UniAV code, and the
``map-small`` fixtures)::

    {"database": {video_id: {"subset": "validation", "duration": 12.3, ["fps": 25.0],
                             ["annotations"]: [{"segment": [s, e], "label": name, "label_id": k}]}}}

Each annotation carries ``label`` (a class name), ``label_id`` (an integer) or both. Class ids
and names are reconciled once per file (see :func:`parse_annotation_db`).

DetectionTable (the official evaluator's prediction file)::

    {"database": {video_id: [{"segment": [s, e], "label_id": k, "scores": p}, ...]}}

They are held as flat arrays in :class:`DetectionTable`, the form the evaluator consumes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DUPLICATE_TOLERANCE = 1e-3  # seconds; the protocol's tolerance on both ends of a duplicate


class AnnotationError(ValueError):
    """A ground-truth or detection file (or mapping) does not follow the expected layout."""


@dataclass(frozen=True)
class Annotation:
    """One ground-truth instance: ``[start, end]`` in seconds, class name and class id."""

    start: float
    end: float
    label: str
    label_id: int


@dataclass(frozen=True)
class VideoRecord:
    """One video of the database: its subset (as written in the file), duration in seconds,
    frame rate when the file gives one, and its annotations in file order (duplicates kept)."""

    video_id: str
    subset: str
    duration: float
    fps: float | None
    annotations: tuple[Annotation, ...]


@dataclass(frozen=True)
class AnnotationDB:
    """A parsed annotation database.

    ``classes[i]`` is the name of class id ``i``; ``videos`` maps video id to its record, in
    file order.
    """

    classes: tuple[str, ...]
    videos: dict[str, VideoRecord]

    def subset(self, *names: str) -> AnnotationDB:
        """The videos whose subset is one of ``names`` (compared case-insensitively), same classes.

        Raises ``ValueError`` when no name is given or a name matches no video.
        """
        if not names:
            raise ValueError("subset() needs at least one subset name")
        wanted = {n.lower() for n in names}
        present = self.subsets()
        missing = sorted(wanted - present)
        if missing:
            raise ValueError(f"no video in subset(s) {missing}; subsets present: {sorted(present)}")
        videos = {k: v for k, v in self.videos.items() if v.subset.lower() in wanted}
        return AnnotationDB(classes=self.classes, videos=videos)

    def subsets(self) -> set[str]:
        """The lower-cased subset names present."""
        return {v.subset.lower() for v in self.videos.values()}

    @property
    def num_annotations(self) -> int:
        """Total number of annotations (duplicates included)."""
        return sum(len(v.annotations) for v in self.videos.values())


@dataclass(frozen=True, eq=False)
class DetectionTable:
    """Scored detections of many videos as flat arrays (one row per detection, file order).

    ``video_ids`` holds the distinct video ids and ``video_index[i]`` is the position of
    detection ``i``'s video in it; ``segments`` is (N, 2) seconds, ``label_ids`` (N,) int64,
    ``scores`` (N,) float64.
    """

    video_ids: tuple[str, ...]
    video_index: np.ndarray
    segments: np.ndarray
    label_ids: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        n = self.scores.shape[0]
        if self.scores.shape != (n,) or self.label_ids.shape != (n,) or self.video_index.shape != (n,):
            raise ValueError("video_index, label_ids and scores must be 1-D arrays of the same length")
        if self.segments.shape != (n, 2):
            raise ValueError(f"segments must be ({n}, 2), got {self.segments.shape}")
        if n and (self.video_index.min() < 0 or self.video_index.max() >= len(self.video_ids)):
            raise ValueError("video_index points outside video_ids")
        if not np.isfinite(self.scores).all():
            raise ValueError("detection scores must be finite")
        if not np.isfinite(self.segments).all():
            raise ValueError("detection segments must be finite")
        if n and self.label_ids.min() < 0:
            raise ValueError(f"negative detection label_id {int(self.label_ids.min())}")

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def from_arrays(
        cls, video_ids: Sequence[str] | np.ndarray, segments: Any, label_ids: Any, scores: Any
    ) -> DetectionTable:
        """Build from per-detection columns (``video_ids[i]`` is detection ``i``'s video).

        Arrays may be numpy arrays, CPU torch tensors or lists.
        """
        names = np.asarray(video_ids, dtype=str)
        uniq, first, inverse = np.unique(names, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # keep videos in order of first appearance
        remap = np.empty_like(order)
        remap[order] = np.arange(order.size)
        return cls(
            video_ids=tuple(str(v) for v in uniq[order]),
            video_index=remap[inverse.reshape(-1)].astype(np.int64),
            segments=np.asarray(segments, dtype=np.float64).reshape(-1, 2),
            label_ids=_as_int_array(label_ids, "label_ids"),
            scores=np.asarray(scores, dtype=np.float64).reshape(-1),
        )

    @classmethod
    def from_video_results(cls, results: Iterable[Mapping[str, Any]]) -> DetectionTable:
        """Build from per-video outputs ``{"video_id", "segments" (n, 2), "labels" (n,), "scores" (n,)}``
        (the form a model's inference loop produces); arrays may be numpy or CPU torch tensors."""
        ids: list[str] = []
        counts, segs, labels, scores = [], [], [], []
        for i, item in enumerate(results):
            for key in ("video_id", "segments", "labels", "scores"):
                if key not in item:
                    raise AnnotationError(f"video result #{i} has no {key!r} key")
            s = np.asarray(item["segments"], dtype=np.float64).reshape(-1, 2)
            lab = _as_int_array(item["labels"], f"labels of video {item['video_id']!r}")
            sc = np.asarray(item["scores"], dtype=np.float64).reshape(-1)
            if not (s.shape[0] == lab.shape[0] == sc.shape[0]):
                raise AnnotationError(
                    f"video {item['video_id']!r}: segments, labels and scores have different lengths "
                    f"({s.shape[0]}, {lab.shape[0]}, {sc.shape[0]})"
                )
            ids.append(str(item["video_id"]))
            counts.append(s.shape[0])
            segs.append(s)
            labels.append(lab)
            scores.append(sc)
        return _merge_videos(ids, counts, segs, labels, scores)


# --------------------------------------------------------------------------- duplicates


def duplicate_mask(group: np.ndarray, segments: np.ndarray, tol: float = DUPLICATE_TOLERANCE) -> np.ndarray:
    """Which rows are duplicates under the protocol's rule.

    Rows are scanned in order; a row is a duplicate when an earlier *kept* row of the same
    ``group`` (e.g. the same video and label) has both ends within ``tol``. ``group`` is (N,)
    integer, ``segments`` (N, 2). Returns a boolean (N,) array, True for rows to drop.
    """
    group = np.asarray(group)
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    n = group.shape[0]
    drop = np.zeros(n, dtype=bool)
    if n < 2:
        return drop
    # all (earlier, later) pairs inside each group, built without a per-row loop
    order = np.lexsort((np.arange(n), group))
    g_sorted = group[order]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    sizes = np.diff(np.r_[starts, n])
    pos_in_group = np.arange(n) - np.repeat(starts, sizes)
    n_earlier = pos_in_group  # every row is paired with the rows before it in its group
    later = np.repeat(np.arange(n), n_earlier)
    first_of_group = np.repeat(starts, sizes)
    earlier = np.repeat(first_of_group, n_earlier) + (
        np.arange(later.size) - np.repeat(np.cumsum(n_earlier) - n_earlier, n_earlier)
    )
    a, b = order[earlier], order[later]
    close = np.abs(segments[a] - segments[b]).max(axis=1) <= tol
    a, b = a[close], b[close]
    if a.size == 0:
        return drop
    # a row with a close earlier row is dropped unless every such earlier row was itself dropped.
    # An earlier row with no close row before it is surely kept, so its partners are surely
    # dropped; only chains (every close earlier row is itself a candidate) need the sequential rule
    candidates = np.unique(b)
    drop[candidates] = True
    is_candidate = np.zeros(n, dtype=bool)
    is_candidate[candidates] = True
    has_kept_partner = np.bincount(b, weights=~is_candidate[a], minlength=n) > 0
    chained = candidates[~has_kept_partner[candidates]]
    if chained.size:
        by_later = np.argsort(b, kind="stable")
        a, b = a[by_later], b[by_later]
        bounds = np.searchsorted(b, chained, side="left"), np.searchsorted(b, chained, side="right")
        for row, lo, hi in zip(chained.tolist(), *bounds, strict=True):  # ascending: earlier rows final
            drop[row] = not np.all(drop[a[lo:hi]])
    return drop


def remove_duplicate_annotations(
    annotations: Iterable[Annotation], tol: float = DUPLICATE_TOLERANCE
) -> tuple[Annotation, ...]:
    """The annotations (of one video) without duplicates: an annotation is dropped when an
    earlier kept one has the same ``label_id`` and both ends within ``tol`` seconds."""
    anns = tuple(annotations)
    if len(anns) < 2:
        return anns
    labels = np.array([a.label_id for a in anns], dtype=np.int64)
    segs = np.array([(a.start, a.end) for a in anns], dtype=np.float64)
    drop = duplicate_mask(labels, segs, tol)
    return tuple(a for a, d in zip(anns, drop.tolist(), strict=True) if not d)


# --------------------------------------------------------------------------- ground truth


def load_annotation_db(path: str | Path, classes: Sequence[str] | None = None) -> AnnotationDB:
    """Read an annotation file (layout in the module docstring).

    ``classes`` (names ordered by id), when given, fixes the class list: every ``label_id``
    must index it and every ``label`` must be in it (and agree with ``label_id`` when both are
    present). Without it, see :func:`parse_annotation_db`.
    """
    return parse_annotation_db(_read_json(path), classes=classes, source=str(path))


def parse_annotation_db(
    data: Mapping[str, Any], classes: Sequence[str] | None = None, source: str = "<mapping>"
) -> AnnotationDB:
    """Parse an already-loaded annotation mapping (``{"database": ...}`` or the database itself).

    Without ``classes``: a name seen with an id keeps that id everywhere (a name with two ids,
    or an id with two names, is an error); names never given an id get the next free ids in
    sorted-name order; ids never given a name are called ``class_{id}``. ``classes`` is then
    ``(name of id 0, ..., name of the largest id)``.
    """
    database = _database(data, source)
    given = tuple(classes) if classes is not None else None
    if given is not None:
        dup = sorted({c for c in given if given.count(c) > 1})
        if dup:
            raise AnnotationError(f"class list has duplicate names: {dup}")

    # pass 1: structure, segments, raw labels
    raw: list[tuple[str, str, float, float | None, list[tuple[float, float, str | None, int | None]]]] = []
    for vid, entry in database.items():
        where = f"{source}: video {vid!r}"
        if not isinstance(entry, Mapping):
            raise AnnotationError(f"{where}: expected an object, got {type(entry).__name__}")
        for key in ("subset", "duration"):
            if key not in entry:
                raise AnnotationError(f"{where}: missing key {key!r}")
        subset = entry["subset"]
        if not isinstance(subset, str):
            raise AnnotationError(f"{where}: 'subset' must be a string, got {subset!r}")
        duration = _number(entry["duration"], f"{where}: 'duration'")
        fps = None if entry.get("fps") is None else _number(entry["fps"], f"{where}: 'fps'")
        if fps is not None and fps <= 0:
            raise AnnotationError(f"{where}: 'fps' must be positive, got {fps}")
        anns = entry.get("annotations", [])
        if not isinstance(anns, list):
            raise AnnotationError(f"{where}: 'annotations' must be a list")
        items = []
        for j, ann in enumerate(anns):
            at = f"{where}, annotation #{j}"
            if not isinstance(ann, Mapping):
                raise AnnotationError(f"{at}: expected an object")
            start, end = _segment(ann, at)
            label = ann.get("label")
            if label is not None and not isinstance(label, str):
                raise AnnotationError(f"{at}: 'label' must be a string, got {label!r}")
            label_id = None if ann.get("label_id") is None else _label_id(ann["label_id"], f"{at}: 'label_id'")
            if label is None and label_id is None:
                raise AnnotationError(f"{at}: missing key 'label_id' (or 'label')")
            items.append((start, end, label, label_id))
        raw.append((str(vid), subset, duration, fps, items))

    # pass 2: one consistent class list
    every = [(lab, lid, vid) for vid, _, _, _, items in raw for (_, _, lab, lid) in items]
    names = _class_names(every, given, source)
    index = {name: i for i, name in enumerate(names)}

    videos: dict[str, VideoRecord] = {}
    for vid, subset, duration, fps, items in raw:
        anns_out = []
        for start, end, label, label_id in items:
            cid = label_id if label_id is not None else index[label]
            anns_out.append(Annotation(start=start, end=end, label=names[cid], label_id=cid))
        videos[vid] = VideoRecord(vid, subset, duration, fps, tuple(anns_out))
    return AnnotationDB(classes=names, videos=videos)


def _class_names(
    every: list[tuple[str | None, int | None, str]], given: tuple[str, ...] | None, source: str
) -> tuple[str, ...]:
    """Reconcile (label, label_id) pairs into the class-name tuple (see parse_annotation_db)."""
    if given is not None:
        index = {name: i for i, name in enumerate(given)}
        for label, label_id, vid in every:
            if label_id is not None and label_id >= len(given):
                raise AnnotationError(
                    f"{source}: video {vid!r}: label_id {label_id} is outside the {len(given)} given classes"
                )
            if label is not None and label not in index:
                raise AnnotationError(f"{source}: video {vid!r}: label {label!r} is not in the given classes")
            if label is not None and label_id is not None and given[label_id] != label:
                raise AnnotationError(
                    f"{source}: video {vid!r}: label {label!r} has label_id {label_id}, but the given "
                    f"classes name id {label_id} {given[label_id]!r} (and {label!r} is id {index[label]})"
                )
        return given

    id_of: dict[str, int] = {}
    name_of: dict[int, str] = {}
    for label, label_id, vid in every:
        if label is None or label_id is None:
            continue
        if id_of.setdefault(label, label_id) != label_id:
            raise AnnotationError(
                f"{source}: video {vid!r}: label {label!r} has label_id {label_id} here but {id_of[label]} elsewhere"
            )
        if name_of.setdefault(label_id, label) != label:
            raise AnnotationError(
                f"{source}: video {vid!r}: label_id {label_id} is named {label!r} here "
                f"but {name_of[label_id]!r} elsewhere"
            )
    ids = {lid for _, lid, _ in every if lid is not None}
    unnamed_ids = sorted({lab for lab, _, _ in every if lab is not None} - set(id_of))
    next_id = max(ids) + 1 if ids else 0
    for k, name in enumerate(unnamed_ids):
        id_of[name] = next_id + k
        name_of[next_id + k] = name
    size = max(name_of.keys() | ids, default=-1) + 1
    names = tuple(name_of.get(i, f"class_{i}") for i in range(size))
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise AnnotationError(f"{source}: generated class names clash with labels in the file: {clash}")
    return names


# --------------------------------------------------------------------------- detections


def load_predictions(path: str | Path, classes: Sequence[str] | None = None) -> DetectionTable:
    """Read a detection file (``{"database": {video_id: [{segment, label_id, scores}]}}``).

    A detection may carry ``label`` (a name in ``classes``) instead of ``label_id``, and
    ``score`` instead of ``scores``.
    """
    return parse_predictions(_read_json(path), classes=classes, source=str(path))


def parse_predictions(
    data: Mapping[str, Any], classes: Sequence[str] | None = None, source: str = "<mapping>"
) -> DetectionTable:
    """Parse an already-loaded detection mapping (``{"database": ...}`` or the database itself)."""
    database = _database(data, source)
    index = {name: i for i, name in enumerate(classes)} if classes is not None else None
    ids: list[str] = []
    counts, segs, labels, scores = [], [], [], []
    for vid, dets in database.items():
        if not isinstance(dets, list):
            raise AnnotationError(f"{source}: video {vid!r}: expected a list of detections, got {type(dets).__name__}")
        arrays = _video_detections_fast(dets)
        if arrays is None or (classes is not None and arrays[1].size and arrays[1].max() >= len(classes)):
            # not the canonical form (or out of range): the validating path copes or names the culprit
            arrays = _video_detections_checked(dets, index, classes, f"{source}: video {vid!r}")
        ids.append(str(vid))
        counts.append(len(dets))
        segs.append(arrays[0])
        labels.append(arrays[1])
        scores.append(arrays[2])
    return _merge_videos(ids, counts, segs, labels, scores)


def as_detections(predictions: Any, classes: Sequence[str] | None = None) -> DetectionTable:
    """Coerce the prediction forms the evaluator accepts into :class:`DetectionTable`.

    Accepted: a :class:`DetectionTable`; a detection-file mapping (``{"database": ...}`` or
    ``{video_id: [..]}``); the official in-memory columns ``{"video-id", "t-start", "t-end",
    "label", "score"}``; a list of per-video results (see :meth:`DetectionTable.from_video_results`).
    """
    if isinstance(predictions, DetectionTable):
        return predictions
    if isinstance(predictions, Mapping):
        columns = ("video-id", "t-start", "t-end", "label", "score")
        if "database" not in predictions and all(k in predictions for k in columns):
            starts = np.asarray(predictions["t-start"], dtype=np.float64).reshape(-1)
            ends = np.asarray(predictions["t-end"], dtype=np.float64).reshape(-1)
            return DetectionTable.from_arrays(
                predictions["video-id"],
                np.stack([starts, ends], axis=1),
                predictions["label"],
                predictions["score"],
            )
        return parse_predictions(predictions, classes=classes)
    if isinstance(predictions, (list, tuple)):
        return DetectionTable.from_video_results(predictions)
    raise TypeError(f"unsupported prediction container {type(predictions).__name__}")


# --------------------------------------------------------------------------- helpers


def _read_json(path: str | Path) -> Any:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"annotation file not found: {p}")
    try:
        with p.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise AnnotationError(f"{p}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}") from err
    except UnicodeDecodeError as err:
        raise AnnotationError(f"{p}: not UTF-8 text ({err})") from err


def _database(data: Any, source: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise AnnotationError(f"{source}: expected a JSON object at the top level, got {type(data).__name__}")
    database = data.get("database", data)
    if not isinstance(database, Mapping):
        raise AnnotationError(f"{source}: 'database' must be an object mapping video ids to entries")
    return database


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AnnotationError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _label_id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise AnnotationError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def _segment(item: Mapping[str, Any], at: str) -> tuple[float, float]:
    if "segment" not in item:
        raise AnnotationError(f"{at}: missing key 'segment'")
    seg = item["segment"]
    if not isinstance(seg, (list, tuple)) or len(seg) != 2:
        raise AnnotationError(f"{at}: 'segment' must be [start, end], got {seg!r}")
    start, end = _number(seg[0], f"{at}: segment start"), _number(seg[1], f"{at}: segment end")
    if end < start:
        raise AnnotationError(f"{at}: segment ends before it starts: {seg!r}")
    return start, end


def _video_detections_fast(dets: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Arrays of one video's detections when every entry has the canonical keys and types
    (``segment``, ``label_id``, ``scores``), else None."""
    try:
        seg = np.array([d["segment"] for d in dets])
        lab = np.array([d["label_id"] for d in dets])
        sc = np.array([d["scores"] for d in dets])
    except (KeyError, TypeError, ValueError):
        return None
    n = len(dets)
    if n == 0:
        return np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0)
    if (
        seg.shape != (n, 2)
        or seg.dtype.kind not in "if"
        or lab.shape != (n,)
        or lab.dtype.kind != "i"
        or sc.shape != (n,)
        or sc.dtype.kind not in "if"
    ):
        return None
    seg, sc = seg.astype(np.float64), sc.astype(np.float64)
    if not (np.isfinite(seg).all() and np.isfinite(sc).all()) or (seg[:, 1] < seg[:, 0]).any() or lab.min() < 0:
        return None
    return seg, lab.astype(np.int64), sc


def _video_detections_checked(
    dets: list[Any], index: dict[str, int] | None, classes: Sequence[str] | None, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One video's detections, validated entry by entry (raises AnnotationError naming the entry)."""
    seg_v = np.empty((len(dets), 2), dtype=np.float64)
    lab_v = np.empty(len(dets), dtype=np.int64)
    sc_v = np.empty(len(dets), dtype=np.float64)
    for j, det in enumerate(dets):
        at = f"{where}, detection #{j}"
        if not isinstance(det, Mapping):
            raise AnnotationError(f"{at}: expected an object")
        seg_v[j] = _segment(det, at)
        score_key = "scores" if "scores" in det else "score"
        if score_key not in det:
            raise AnnotationError(f"{at}: missing key 'scores'")
        sc_v[j] = _number(det[score_key], f"{at}: {score_key!r}")
        lab_v[j] = _detection_label(det, index, classes, at)
    return seg_v, lab_v, sc_v


def _detection_label(
    det: Mapping[str, Any], index: dict[str, int] | None, classes: Sequence[str] | None, at: str
) -> int:
    if det.get("label_id") is not None:
        lid = _label_id(det["label_id"], f"{at}: 'label_id'")
        if classes is not None and lid >= len(classes):
            raise AnnotationError(f"{at}: label_id {lid} is outside the {len(classes)} given classes")
        return lid
    if "label" in det:
        if index is None:
            raise AnnotationError(f"{at}: has only a class name ('label'); pass the class list to map it")
        if det["label"] not in index:
            raise AnnotationError(f"{at}: label {det['label']!r} is not in the given classes")
        return index[det["label"]]
    raise AnnotationError(f"{at}: missing key 'label_id'")


def _as_int_array(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values).reshape(-1)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        as_float = arr.astype(np.float64)
        if not np.all(as_float == np.round(as_float)):
            raise AnnotationError(f"{what} must be integers")
    return arr.astype(np.int64)


def _merge_videos(
    ids: list[str], counts: list[int], segs: list[np.ndarray], labels: list[np.ndarray], scores: list[np.ndarray]
) -> DetectionTable:
    """Concatenate per-video arrays; a video id listed twice becomes one entry of ``video_ids``."""
    position: dict[str, int] = {}
    video_pos = np.asarray([position.setdefault(v, len(position)) for v in ids], dtype=np.int64)
    if sum(counts) == 0:
        return DetectionTable(
            tuple(position), np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0)
        )
    return DetectionTable(
        video_ids=tuple(position),
        video_index=np.repeat(video_pos, counts),
        segments=np.concatenate(segs).reshape(-1, 2).astype(np.float64),
        label_ids=np.concatenate(labels).astype(np.int64),
        scores=np.concatenate(scores).astype(np.float64),
    )
