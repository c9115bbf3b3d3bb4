"""`uniav predict` over a collection: folders and manifests in, one JSON per clip and a summary out, resumable,
decoded in worker processes, sharded by rank; and the pure functions of `uniav.pipeline.collection`."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import signal_model_config, write_test_clip
from uniav.cli import main
from uniav.data.extract import shard
from uniav.encoders import CachedEncoder, FeatureCache, build_encoder
from uniav.model.uniav import UniAV
from uniav.pipeline import encode_pool
from uniav.pipeline.collection import (
    CollectionError,
    RankFiles,
    Status,
    gather_clips,
    merge_rank_summaries,
    resume_status,
    write_done,
    write_failures,
    write_summary,
)
from uniav.pipeline.detector import Detector
from uniav.pipeline.encode_pool import WORKER_DIED, EncodeJob, EncodePool, default_workers, plan_threads
from uniav.pipeline.results import DetectionResult

REPO = Path(__file__).resolve().parents[1]
GOOD = {"a.mp4": 1.5, "sub/b.mp4": 1.0, "sub/deeper/c.mp4": 1.25}
BAD = "bad.mp4"
RUN_KEYS = ("input", "settings")  # what a collection's JSON adds to the single-file schema


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return UniAV(signal_model_config()).save_pretrained(tmp_path_factory.mktemp("model") / "m")


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory) -> Path:
    """Three tiny clips in nested folders (one without sound), a corrupt .mp4 and a file that is not media."""
    root = tmp_path_factory.mktemp("videos")
    for i, (name, seconds) in enumerate(GOOD.items()):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_test_clip(root / name, seconds=seconds, size=(64, 48), audio=i != 2)
    (root / BAD).write_bytes(b"\x00not a video at all" * 50)
    (root / "notes.txt").write_text("not media, not a manifest inside a folder")
    return root


@pytest.fixture()
def videos(source_dir, tmp_path) -> Path:
    """A fresh copy of the clips (tests change them)."""
    return Path(shutil.copytree(source_dir, tmp_path / "videos"))


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIAV_CACHE", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread while a test runs: this process imported PyTorch before `uniav.cli` could ask
    OpenMP for sleeping waits, and spinning threads crawl on shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def predict(*args: object) -> int:
    return main(["predict", *map(str, args), "--quiet"])


def records(out: Path) -> dict[str, dict]:
    return {
        p.relative_to(out).as_posix(): json.loads(p.read_text())
        for p in sorted(out.rglob("*.json"))
        if p.name != "failures.json" and not p.name.startswith(("failures-", "done-"))
    }


def counting(monkeypatch) -> dict[str, int]:
    """Count decodes (the encoder behind the feature cache) and network runs in this process."""
    calls = {"encode": 0, "network": 0}
    encode, network = CachedEncoder.encode_file, Detector.analyze_features

    def encode_file(self, *a, **k):
        calls["encode"] += 1
        return encode(self, *a, **k)

    def analyze_features(self, *a, **k):
        calls["network"] += 1
        return network(self, *a, **k)

    monkeypatch.setattr(CachedEncoder, "encode_file", encode_file)
    monkeypatch.setattr(Detector, "analyze_features", analyze_features)
    return calls


# ---- a folder, end to end --------------------------------------------------------------------------------------


def test_folder_gives_one_json_per_clip_a_summary_and_the_failures(videos, model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert predict(videos, "-o", out, "--model", model_dir, "--workers", "1", "--threshold", "0.05") == 0
    err = capsys.readouterr().err
    assert "3 done" in err and "1 failed" in err

    docs = records(out)
    assert sorted(docs) == sorted(f"{name}.json" for name in GOOD)  # notes.txt is no clip, bad.mp4 failed
    detector = Detector(UniAV.from_pretrained(model_dir), feature_cache=FeatureCache(tmp_path / "direct"))
    for name, doc in docs.items():
        clip = videos / name.removesuffix(".json")
        assert doc["input"]["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
        assert doc["input"]["size"] == clip.stat().st_size
        expected = detector.run(clip, threshold=0.05).to_dict()  # the single-file path, worker-free
        assert {k: v for k, v in doc.items() if k not in RUN_KEYS} == {**expected, "model": str(model_dir)}
    assert "no audio track" in " ".join(docs["sub/deeper/c.mp4.json"]["notes"])

    with open(out / "summary.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["file", "task", "label", "start", "end", "score"]
    expected_rows = []
    for doc in sorted(docs.values(), key=lambda d: d["file"]):
        result = DetectionResult.from_dict(doc)
        expected_rows += [[doc["file"], *line.split(",")] for line in result.to_csv().splitlines()[1:]]
    assert rows[1:] == expected_rows and len(rows) > 10

    failures = json.loads((out / "failures.json").read_text())
    assert [f["file"] for f in failures] == [str(videos / BAD)] and "not a media file" in failures[0]["error"]


def test_resumed_run_redoes_nothing_and_redoes_what_changed(videos, model_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    base = ["-o", out, "--model", model_dir, "--workers", "0"]
    assert predict(videos, *base) == 0
    first = records(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4.json")}
    capsys.readouterr()
    calls = counting(monkeypatch)

    # nothing changed: nothing is decoded or run, no output is rewritten (the corrupt file is retried)
    assert predict(videos, *base) == 0
    assert "3 already done" in capsys.readouterr().err
    assert calls == {"encode": 1, "network": 0}  # only bad.mp4, which fails again
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4.json")} == mtimes

    # a touched clip (new mtime, same content) is hashed and kept; its record takes the new mtime
    os.utime(videos / "a.mp4", ns=(1_000_000_000, 1_000_000_000))
    calls.update(encode=0, network=0)
    assert predict(videos, *base) == 0
    assert "3 already done (1 of them touched but unchanged)" in capsys.readouterr().err
    assert calls == {"encode": 1, "network": 0}
    assert records(out)["a.mp4.json"]["input"]["mtime_ns"] == 1_000_000_000

    # a clip whose content changed is redone, alone
    write_test_clip(videos / "sub/b.mp4", seconds=2.0, size=(64, 48))
    calls.update(encode=0, network=0)
    assert predict(videos, *base) == 0
    assert "2 to run (1 new, 1 changed, 0 made with other settings): 1 done" in capsys.readouterr().err
    assert calls == {"encode": 2, "network": 1}  # b.mp4 and the corrupt file
    again = records(out)
    assert again["sub/b.mp4.json"]["duration"] == pytest.approx(2.0, abs=0.1) != first["sub/b.mp4.json"]["duration"]
    assert again["sub/deeper/c.mp4.json"] == first["sub/deeper/c.mp4.json"]

    # other settings redo every clip, from the result cache: filtered again, no decoding, no network
    calls.update(encode=0, network=0)
    assert predict(videos, *base, "--threshold", "0.5") == 0
    assert "made with other settings): 3 done (3 from the result cache)" in capsys.readouterr().err
    assert calls == {"encode": 1, "network": 0}
    for name, doc in records(out).items():
        scores = [d["score"] for dets in doc["tasks"].values() for d in dets]
        assert all(s >= 0.5 for s in scores)
        if name != "sub/b.mp4.json":
            low = [d for dets in first[name]["tasks"].values() for d in dets if d["score"] >= 0.5]
            assert sorted(map(str, low)) == sorted(str(d) for dets in doc["tasks"].values() for d in dets)


def test_manifests_txt_and_csv(videos, model_dir, tmp_path):
    (videos / "list.txt").write_text("# clips to score\na.mp4\n\nsub/b.mp4\nmissing.mp4\n")
    elsewhere = tmp_path / "lists"
    elsewhere.mkdir()
    (elsewhere / "list.csv").write_text(f"id,path\n1,{videos / 'sub/deeper/c.mp4'}\n2,../videos/a.mp4\n")
    out = tmp_path / "out"
    assert predict(videos / "list.txt", "-o", out, "--model", model_dir, "--workers", "0", "--tasks", "tal") == 0
    assert sorted(records(out)) == ["a.mp4.json", "sub/b.mp4.json"]
    assert all(list(d["tasks"]) == ["TAL"] for d in records(out).values())
    (failure,) = json.loads((out / "failures.json").read_text())
    assert failure["file"] == str(videos / "missing.mp4") and "file not found" in failure["error"]

    clips = gather_clips([elsewhere / "list.csv"])
    wanted = [Path(os.path.abspath(videos / n)) for n in ("a.mp4", "sub/deeper/c.mp4")]
    assert [Path(os.path.abspath(c.path)) for c in clips] == wanted
    # entries outside the manifest's folder are named by their absolute path
    assert [c.name for c in clips] == [p.relative_to(p.anchor).as_posix() for p in wanted]

    (elsewhere / "bad.csv").write_text("id,file\n1,a.mp4\n")
    with pytest.raises(CollectionError, match="needs a 'path' column; its columns are id, file"):
        gather_clips([elsewhere / "bad.csv"])
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        gather_clips([elsewhere / "nope.txt"])


def test_two_ranks_split_the_work_and_match_one_process(videos, model_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    args = ["--model", str(model_dir), "--workers", "0", "--quiet"]
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "uniav", "predict", str(videos), "-o", str(two), *args]
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True))
    assert predict(videos, "-o", one, *args) == 0  # meanwhile, one process
    errs = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs

    names = sorted([*GOOD, BAD])
    for rank in (0, 1):
        files = RankFiles.of(two, rank, 2)
        with open(files.summary, newline="") as f:
            in_summary = {row["file"] for row in csv.DictReader(f)}
        failed = {f["file"] for f in json.loads(files.failures.read_text())}
        assert in_summary | failed == {str(videos / n) for n in shard(names, rank, 2)}
        assert f"rank {rank}/2: {len(shard(names, rank, 2))} clips" in errs[rank]
    assert records(one) == records(two)
    for name in ("summary.csv", "failures.json"):
        assert (two / name).read_bytes() == (one / name).read_bytes()
    (two / "summary.csv").unlink()
    assert main(["predict", "--merge", "-o", str(two)]) == 0
    assert (two / "summary.csv").read_bytes() == (one / "summary.csv").read_bytes()


# ---- the parts -------------------------------------------------------------------------------------------------


def test_gather_clips_names_dedups_and_refuses_collisions(videos, tmp_path):
    clips = gather_clips([videos, videos / "a.mp4", str(videos / "sub" / ".." / "a.mp4")])
    assert [c.name for c in clips] == sorted(["bad.mp4", *GOOD])  # a.mp4 once; notes.txt is no media file
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.mp4").write_bytes(b"x")
    with pytest.raises(CollectionError, match="share the output name 'a.mp4'"):
        gather_clips([videos / "a.mp4", other / "a.mp4"])
    with pytest.raises(CollectionError, match="no input"):
        gather_clips([])


def test_resume_status_decides_from_size_mtime_content_and_settings():
    record = {"settings": "s1", "input": {"size": 10, "mtime_ns": 5, "sha256": "abc"}}

    def never() -> str:
        raise AssertionError("hashed a file whose size and mtime say enough")

    assert resume_status(None, 10, 5, "s1", never) is Status.NEW
    assert resume_status(record, 10, 5, "s1", never) is Status.DONE
    assert resume_status(record, 10, 5, "s2", never) is Status.OUTDATED
    assert resume_status(record, 11, 5, "s1", never) is Status.CHANGED
    assert resume_status(record, 10, 6, "s1", lambda: "abc") is Status.TOUCHED
    assert resume_status(record, 10, 6, "s1", lambda: "abd") is Status.CHANGED
    assert [s.to_run for s in Status] == [True, False, False, True, True]


def test_merge_waits_for_every_rank_with_the_same_settings(tmp_path):
    def result(file: str, start: float) -> DetectionResult:
        return DetectionResult.from_dict(
            {"file": file, "duration": 9.0, "tasks": {"SED": [{"label": "x", "start": start, "end": 9, "score": 1}]}}
        )

    rank_clips = {0: ["a", "c"], 1: ["b"], 2: ["d"]}
    for rank, files in rank_clips.items():
        ranks = RankFiles.of(tmp_path, rank, 3)
        write_summary(ranks.summary, [result(f, i) for i, f in enumerate(files)])
        write_failures(ranks.failures, [])
        if rank < 2:
            write_done(ranks, "s", len(files), 0)
    assert not merge_rank_summaries(tmp_path, 3) and not (tmp_path / "summary.csv").exists()
    write_done(RankFiles.of(tmp_path, 2, 3), "other", 1, 0)
    assert not merge_rank_summaries(tmp_path, 3)
    write_done(RankFiles.of(tmp_path, 2, 3), "s", 1, 0)
    assert merge_rank_summaries(tmp_path, 3, "s")
    rows = (tmp_path / "summary.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["a", "b", "c", "d"]
    assert json.loads((tmp_path / "failures.json").read_text()) == []


def test_threads_and_workers_share_the_cores():
    assert default_workers(2) == 1 and default_workers(1) == 1 and default_workers(16) == 4
    assert plan_threads(2, 1) == (1, 1)
    assert plan_threads(16, 4) == (4, 3)
    assert plan_threads(8, 2) == (2, 3)
    assert plan_threads(4, 0) == (4, 1)
    assert plan_threads(1, 3) == (1, 1)


def crash_on_boom(job: EncodeJob):
    if job.key == "boom":
        os._exit(3)
    return encode_pool._worker_job(job)


def test_a_dying_worker_fails_the_clips_in_flight_and_the_rest_go_on(source_dir, tmp_path):
    from uniav.config import EncoderSpec
    from uniav.media.grid import SnippetGrid

    spec = EncoderSpec.uniform("signal")
    grids = (SnippetGrid(4),)
    pool = EncodePool(spec, tmp_path / "feats", workers=1, ahead=1, job_fn=crash_on_boom)
    jobs = [EncodeJob(k, source_dir / n, grids) for k, n in (("a", "a.mp4"), ("boom", "a.mp4"), ("b", "sub/b.mp4"))]
    outcomes = {o.key: o for o in pool.encode(jobs)}
    assert outcomes["boom"].error == WORKER_DIED
    direct = build_encoder(spec).encode_file(source_dir / "sub/b.mp4", list(grids))[grids[0]]
    assert outcomes["a"].ok and outcomes["b"].ok
    assert (outcomes["b"].features[grids[0]].visual == direct.visual).all()
