"""The studio: its pieces (settings, messages, vocabularies, model loading) and the Gradio app itself,
started on localhost and driven through `gradio_client` like any API user would."""

from __future__ import annotations

import csv
import io
import json
import logging
import socket
from pathlib import Path

import httpx
import pytest
import torch

from tests.helpers import signal_model_config, write_test_clip
from uniav.defaults import REPO_ROOT
from uniav.media import MediaError
from uniav.model.uniav import UniAV
from uniav.studio import (
    PRESET_MODEL,
    ModelRef,
    ModelRegistry,
    SettingsError,
    Studio,
    StudioError,
    StudioSettings,
    TaskSettings,
    describe_error,
    list_examples,
    preset_labels,
)

TASKS = ("TAL", "AVEL", "SED")
TEMPLATES = {
    "TAL": "A visual event of {label}.",
    "AVEL": "An audio visual event of {label}.",
    "SED": "A sound event of {label}.",
}


# ---- fixtures -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A small untrained model on the `signal` encoder (stands in for the bundled model)."""
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("model") / "tiny-signal"
    UniAV(signal_model_config()).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory) -> Path:
    """The project's example clips when there are some, else a generated one."""
    if list_examples(REPO_ROOT / "assets"):
        return REPO_ROOT / "assets"
    folder = tmp_path_factory.mktemp("examples")
    write_test_clip(folder / "generated_example.mp4", seconds=4.0)
    return folder


@pytest.fixture(scope="module")
def studio(model_dir, examples_dir, tmp_path_factory) -> Studio:
    settings = StudioSettings(
        model=str(model_dir),
        cache_dir=tmp_path_factory.mktemp("cache"),
        examples_dir=examples_dir,
        concurrency=2,
        max_upload_mb=50,
    )
    return Studio(settings)


@pytest.fixture(scope="module")
def server(studio):
    import app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        demo = app.serve(studio, port=free_port(), block=False, quiet=True)
    try:
        yield demo
    finally:
        demo.close()


@pytest.fixture()
def client(server, tmp_path):
    from gradio_client import Client

    return Client(server.local_url, verbose=False, download_files=str(tmp_path / "downloads"), analytics_enabled=False)


def task_values(
    studio: Studio,
    labels: dict[str, list[str]] | None = None,
    threshold: float = 0.0,
    top_k: int = 8,
    templates: dict[str, str] | None = None,
) -> list:
    """The 12 panel values (template, labels, threshold, max) for TAL, AVEL, SED."""
    model = studio.load_model(studio.settings.model)
    out = []
    for t in TASKS:
        labs = (labels or {}).get(t) or list(model.task(t).labels)
        out += [(templates or {}).get(t, TEMPLATES[t]), "\n".join(labs), threshold, top_k]
    return out


def run(client, studio, path, tasks=TASKS, **kw):
    from gradio_client import handle_file

    return client.predict(
        handle_file(str(path)), studio.settings.model, list(tasks), *task_values(studio, **kw), api_name="/run"
    )


def update(client, studio, tasks=TASKS, **kw):
    return client.predict(list(tasks), *task_values(studio, **kw), api_name="/update")


def unpack_run(out):
    video, audio, plot, table, json_file, csv_file, status = out
    return video, audio, plot, table, json_file, csv_file, status


def figure(plot) -> dict:
    assert plot["type"] == "plotly"
    return json.loads(plot["plot"])


def annotations(fig: dict) -> list[str]:
    return [a["text"] for a in fig["layout"].get("annotations", [])]


# ---- the pieces ---------------------------------------------------------------------------------
def test_settings_come_from_the_environment():
    s = StudioSettings.from_env(
        {
            "UNIAV_MODEL": "me/model@v2",
            "UNIAV_CACHE": "/tmp/c",
            "UNIAV_MAX_UPLOAD_MB": "0.5",
            "UNIAV_CONCURRENCY": "3",
            "UNIAV_QUEUE_SIZE": "9",
            "UNIAV_EXAMPLES": "/tmp/ex",
            "GRADIO_SERVER_NAME": "0.0.0.0",
            "GRADIO_SERVER_PORT": "8080",
        }
    )
    assert (s.model, s.cache_dir, s.concurrency, s.queue_size) == ("me/model@v2", Path("/tmp/c"), 3, 9)
    assert (s.examples_dir, s.server_name, s.server_port) == (Path("/tmp/ex"), "0.0.0.0", 8080)
    assert s.max_upload_bytes == 524288 and s.max_upload_text == "0.5 MB"
    d = StudioSettings.from_env({})
    assert d.model.endswith("checkpoints/uniav-synth") and d.cache_dir is None
    assert (d.max_upload_mb, d.concurrency, d.server_name, d.server_port) == (200.0, 2, "127.0.0.1", 7860)
    assert d.examples_dir == REPO_ROOT / "assets"
    with pytest.raises(SettingsError, match="UNIAV_CONCURRENCY must be an integer, got 'two'"):
        StudioSettings.from_env({"UNIAV_CONCURRENCY": "two"})
    with pytest.raises(SettingsError, match="UNIAV_MAX_UPLOAD_MB must be at least"):
        StudioSettings.from_env({"UNIAV_MAX_UPLOAD_MB": "0"})
    with pytest.raises(SettingsError, match="GRADIO_SERVER_PORT must be between 1 and 65535"):
        StudioSettings.from_env({"GRADIO_SERVER_PORT": "70000"})


def test_examples_are_the_mp4_and_wav_files(tmp_path):
    for name in ("b.wav", "a.mp4", "notes.txt", "c.mp3", "sub/d.mp4", ".hidden/e.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty.mp4").touch()
    assert [p.relative_to(tmp_path).as_posix() for p in list_examples(tmp_path)] == ["a.mp4", "b.wav", "sub/d.mp4"]
    assert list_examples(tmp_path / "missing") == []


def test_errors_become_specific_messages(caplog):
    err = describe_error(MediaError("/tmp/gradio/abc/clip.mp4", "empty file (0 bytes)"), "analyse clip.mp4")
    assert (err.title, err.detail) == ("Cannot read clip.mp4", "empty file (0 bytes)")
    err = describe_error(KeyError("unknown task 'XYZ'"), "run")
    assert err.detail == "unknown task 'XYZ'"  # not the repr KeyError would give
    err = describe_error(
        ValueError("bad /tmp/gradio/abc/x.mp4 here"), "analyse x.mp4", aliases={"/tmp/gradio/abc/x.mp4": "x.mp4"}
    )
    assert err.detail == "bad x.mp4 here"
    with caplog.at_level(logging.ERROR, logger="uniav.studio"):
        err = describe_error(ZeroDivisionError("boom"), "analyse x.mp4")
    assert err.detail == "unexpected ZeroDivisionError; the details are in the server log"
    assert "Traceback" not in err.markdown() and "ZeroDivisionError: boom" in caplog.text
    assert StudioError("Cannot read a_b.mp4", "x").markdown() == "⚠️ **Cannot read a\\_b.mp4**: x"


def test_task_settings_validate_what_the_user_typed(studio):
    det = studio.load_model(studio.settings.model).detector
    s = TaskSettings.from_ui("the sound of {label}", " dog \n\n car horn\n", 1.7, 500.0)
    assert (s.threshold, s.top_k) == (1.0, 100)
    vocab = s.vocabulary(det, "SED")
    assert vocab.labels == ("dog", "car horn") and vocab.template == "the sound of {label}"
    assert TaskSettings.from_ui(None, None, None, None).threshold == pytest.approx(0.1)
    cases = [
        (("{label}", "  \n "), "the list is empty"),
        (("{label}", "dog\ncat\ndog"), "repeated: dog"),
        (("a sound", "dog"), "has no {label} placeholder"),
        (("{label} {x}", "dog"), "only {label} may appear"),
        (("{label", "dog"), "no {label} placeholder"),
        (("{label}", "x" * 201), "longer than 200"),
    ]
    for (tpl, labels), message in cases:
        with pytest.raises(StudioError, match=message.replace("{", r"\{").replace("}", r"\}")):
            TaskSettings.from_ui(tpl, labels, 0.1, 5).vocabulary(det, "SED")
    model = studio.load_model(studio.settings.model)
    assert preset_labels(PRESET_MODEL, model.task("SED")) == model.task("SED").labels
    assert len(preset_labels("unav100", None)) == 100 and len(preset_labels("desed", None)) == 10
    with pytest.raises(StudioError, match="load a model"):
        preset_labels(PRESET_MODEL, None)


def test_model_refs_and_registry(model_dir, tmp_path):
    assert ModelRef.parse("owner/name@v1") == ModelRef("owner/name", "v1")
    assert ModelRef.parse(f" {model_dir} ") == ModelRef(str(model_dir))
    assert ModelRef.parse(str(REPO_ROOT / "checkpoints" / "uniav-synth")).label == "checkpoints/uniav-synth"
    with pytest.raises(StudioError, match="No model given"):
        ModelRef.parse("  ")
    calls = []

    def loader(name, revision, cache):
        calls.append(name)
        from uniav.pipeline.detector import Detector

        return Detector.from_pretrained(name, revision=revision, feature_cache=cache)

    reg = ModelRegistry(max_models=1, loader=loader)
    other = tmp_path / "other"
    torch.manual_seed(1)
    UniAV(signal_model_config()).save_pretrained(other)
    first = reg.get(str(model_dir))
    assert reg.get(str(model_dir)) is first and calls == [str(model_dir)]
    reg.get(str(other))
    assert reg.peek(str(model_dir)) is None  # evicted: one model kept
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{")
    (broken / "model.safetensors").write_bytes(b"\0" * 8)
    with pytest.raises(StudioError, match="Could not load the model .*broken") as info:
        reg.get(str(broken))
    assert info.value.detail
    with pytest.raises(StudioError, match="neither a model folder nor a Hub repo id"):
        reg.get(str(tmp_path / "missing"))


# ---- the app through gradio_client --------------------------------------------------------------
def test_run_on_a_real_clip_gives_timeline_table_and_downloads(client, studio, media_dir):
    video, audio, plot, table, json_file, csv_file, status = unpack_run(run(client, studio, media_dir / "chaplin.mp4"))
    assert video["visible"] is True and video["value"].endswith("chaplin.mp4")
    assert audio["visible"] is False
    fig = figure(plot)
    assert {tr["type"] for tr in fig["data"]} == {"bar"} and len(fig["data"]) == 3  # one per lane
    assert [a for a in annotations(fig) if a.startswith("<b>")][:3] == [
        "<b>TAL · visual actions</b> · 8 detections",
        "<b>AVEL · audio-visual events</b> · 8 detections",
        "<b>SED · sound events</b> · 8 detections",
    ]
    assert table["headers"] == ["task", "label", "start (s)", "end (s)", "score"]
    rows = table["data"]
    assert len(rows) == 24 and [r[2] for r in rows] == sorted(r[2] for r in rows)
    data = json.loads(Path(json_file).read_text())
    assert data["file"] == "chaplin.mp4" and data["duration"] == pytest.approx(9.64, abs=0.05)
    assert set(data["tasks"]) == set(TASKS) and data["skipped"] == {}
    assert sum(len(v) for v in data["tasks"].values()) == 24
    model = studio.load_model(studio.settings.model)
    for task, dets in data["tasks"].items():
        assert {d["label"] for d in dets} <= set(model.task(task).labels)
        assert all(0 <= d["start"] < d["end"] <= data["duration"] + 1e-3 for d in dets)
    csv_rows = list(csv.reader(io.StringIO(Path(csv_file).read_text())))
    assert csv_rows[0] == ["task", "label", "start", "end", "score"] and len(csv_rows) == 25
    assert "**chaplin.mp4** · 9.6 s · video with sound" in status and "analysed in" in status


def test_example_clip_is_offered_and_runs(client, server, studio, examples_dir):
    example = studio.examples[0]
    assert examples_dir in example.parents
    config = httpx.get(f"{server.local_url}config", timeout=10).json()
    samples = [c["props"].get("samples") for c in config["components"] if c.get("type") == "dataset"]
    assert any(s and any(example.name in json.dumps(row) for row in s) for s in samples)
    *_, table, json_file, _, status = run(client, studio, example)
    assert json.loads(Path(json_file).read_text())["file"] == example.name
    assert table["data"] and f"**{example.name.replace('_', chr(92) + '_')}**" in status


def test_editing_vocabulary_template_threshold_reuses_the_analysis(client, studio, media_dir, monkeypatch):
    run(client, studio, media_dir / "chaplin.mp4")
    detector = studio.load_model(studio.settings.model).detector
    calls = {"decode+encode": 0, "backbone": 0}

    def counting(name, fn):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(detector.encoder, "encode_file", counting("decode+encode", detector.encoder.encode_file))
    monkeypatch.setattr(detector.model, "encode", counting("backbone", detector.model.encode))
    stats = (detector.encoder.stats.hits, detector.encoder.stats.misses)

    plot, table, json_file, _, status = update(
        client,
        studio,
        labels={"TAL": ["juggling", "skating", "surfing"]},
        templates={"SED": "the sound of a {label}"},
        top_k=3,
    )
    data = json.loads(Path(json_file).read_text())
    assert {d["label"] for d in data["tasks"]["TAL"]} <= {"juggling", "skating", "surfing"}
    assert all(len(v) == 3 for v in data["tasks"].values())
    lanes = figure(plot)["layout"]
    assert set(lanes["yaxis"]["categoryarray"]) <= {"juggling", "skating", "surfing"}
    assert "without re-encoding" in status and len(table["data"]) == 9

    detected, real_detect = [], detector.detect

    def counting_detect(analysis, task, *args, **kwargs):
        detected.append(task)
        return real_detect(analysis, task, *args, **kwargs)

    monkeypatch.setattr(detector, "detect", counting_detect)
    edit = {"labels": {"TAL": ["juggling", "skating", "surfing"]}, "templates": {"SED": "the sound of a {label}"}}
    plot, *_, status = update(client, studio, threshold=1.0, **edit)  # nothing scores 1.0
    assert [tr["type"] for tr in figure(plot)["data"]] == ["scatter"] * 3  # empty lanes
    assert "TAL: none with score ≥ 1.00" in status
    assert detected == []  # a threshold edit only filters the last detections
    *_, json_file, _, _ = update(
        client,
        studio,
        threshold=0.0,
        top_k=2,
        labels={**edit["labels"], "AVEL": ["dog barking", "car horn"]},
        templates=edit["templates"],
    )
    assert detected == ["AVEL"]  # only the task whose vocabulary changed is detected again
    data = json.loads(Path(json_file).read_text())
    assert {d["label"] for d in data["tasks"]["AVEL"]} <= {"dog barking", "car horn"}
    assert all(len(v) == 2 for v in data["tasks"].values())
    assert calls == {"decode+encode": 0, "backbone": 0}
    assert (detector.encoder.stats.hits, detector.encoder.stats.misses) == stats

    # the same file again (a new upload of the same content) reuses the analysis as well
    *_, status = run(client, studio, media_dir / "chaplin.mp4")
    assert "analysis reused from the cache" in status and calls == {"decode+encode": 0, "backbone": 0}


def test_a_bad_vocabulary_keeps_the_last_timeline_and_says_why(client, studio, media_dir):
    run(client, studio, media_dir / "chaplin.mp4")
    plot, table, json_file, csv_file, status = update(client, studio, labels={"SED": ["dog", "cat", "dog"]})
    assert plot == {"__type__": "update"} and json_file == {"__type__": "update"}  # unchanged in the page
    assert status == "⚠️ **SED labels**: each label once, please; repeated: dog"
    *_, status = update(client, studio, templates={"AVEL": "an event"})
    assert "AVEL prompt template" in status and "no \\{label\\} placeholder" in status


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("not_a_video.mp4", "not a media file: it contains text, not audio or video"),
        ("empty.mp4", "empty file (0 bytes)"),
        ("truncated.mp4", "the file is truncated"),
    ],
)
def test_bad_files_get_a_specific_message_and_the_app_keeps_working(client, studio, media_dir, name, reason):
    video, audio, plot, table, json_file, csv_file, status = unpack_run(run(client, studio, media_dir / name))
    escaped = name.replace("_", "\\_")
    assert status.startswith(f"⚠️ **Cannot read {escaped}**: ") and reason in status
    assert "Traceback" not in status and "/tmp/" not in status
    assert figure(plot)["data"] == [] and table["data"] == [] and json_file is None and csv_file is None
    # an edit after a failed run has nothing to update, and the next upload works
    assert update(client, studio)[4] == {"__type__": "update"}
    *_, json_file, _, status = run(client, studio, media_dir / "dog_bark.wav", tasks=["SED"])
    assert json.loads(Path(json_file).read_text())["file"] == "dog_bark.wav"


def test_audio_only_and_silent_video_skip_the_tasks_they_cannot_run(client, studio, media_dir):
    video, audio, plot, table, json_file, _, status = unpack_run(run(client, studio, media_dir / "crunching.mp3"))
    assert video["visible"] is False and audio["visible"] is True and audio["value"].endswith("crunching.mp3")
    data = json.loads(Path(json_file).read_text())
    assert set(data["skipped"]) == {"TAL", "AVEL"} and list(data["tasks"]) == ["SED"]
    assert "audio-only input" in data["skipped"]["TAL"]
    assert sum(a.startswith("not run: TAL needs the picture") for a in annotations(figure(plot))) == 1
    assert "audio only" in status and "TAL not run:" in status and "no video track" in status

    *_, json_file, _, status = run(client, studio, media_dir / "no_audio_2s.mp4")
    data = json.loads(Path(json_file).read_text())
    assert set(data["skipped"]) == {"AVEL", "SED"} and list(data["tasks"]) == ["TAL"]
    assert "video without sound" in status and "no audio track" in status


def test_a_model_that_fails_to_load_is_reported_and_the_app_recovers(client, studio, media_dir, tmp_path):
    out = client.predict(str(tmp_path / "no-such-model"), api_name="/load_model")
    assert out[0].startswith("⚠️ **Could not load the model") and "neither a model folder nor a Hub repo id" in out[0]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"tasks": []}')
    (broken / "model.safetensors").write_bytes(b"0")
    from gradio_client import handle_file

    status = client.predict(
        handle_file(str(media_dir / "dog_bark.wav")), str(broken), ["SED"], *task_values(studio), api_name="/run"
    )[-1]
    assert status.startswith("⚠️ **Could not load the model") and "invalid UniAV configuration" in status
    out = client.predict(studio.settings.model, api_name="/load_model")
    assert out[0].startswith("✅ Model") and all(x == {"__type__": "update"} for x in out[1:])  # already shown
    *_, status = run(client, studio, media_dir / "dog_bark.wav", tasks=["SED"])
    assert status.startswith("**dog\\_bark.wav**")

    # a model serving a subset of the tasks: its tasks, its labels, the other panels hidden
    sed_only = tmp_path / "sed-only"
    cfg = signal_model_config()
    torch.manual_seed(2)
    UniAV(cfg.replace(tasks=(cfg.task("SED"),))).save_pretrained(sed_only)
    model_md, tasks, *rest = client.predict(str(sed_only), api_name="/load_model")
    # (the tabs' visibility is a layout update the API does not return: the browser test sees the page)
    per_task, (plot, table, json_file, _, status) = rest[:9], rest[9:]
    assert model_md.startswith("✅ Model") and "tasks: SED (6 labels)" in model_md
    assert tasks["choices"] == [["SED", "SED"]] and tasks["value"] == ["SED"]
    assert per_task[:6] == [{"__type__": "update"}] * 6  # TAL and AVEL panels untouched
    assert per_task[6:] == ["A sound event of {label}.", "\n".join(cfg.task("SED").labels), PRESET_MODEL]
    assert "press **Detect**" in status and json_file is None and table["data"] == []
    assert annotations(figure(plot)) == ["model changed: press Detect"]
    assert update(client, studio, tasks=["SED"])[4] == {"__type__": "update"}  # the last clip was the other model's
    from gradio_client import handle_file

    *_, json_file, _, status = client.predict(
        handle_file(str(media_dir / "dog_bark.wav")), str(sed_only), ["SED"], *task_values(studio), api_name="/run"
    )
    assert list(json.loads(Path(json_file).read_text())["tasks"]) == ["SED"]


def test_missing_file_or_task_and_presets(client, studio, media_dir):
    status = client.predict(None, studio.settings.model, ["SED"], *task_values(studio), api_name="/run")[-1]
    assert status.startswith("⚠️ **No file**")
    status = run(client, studio, media_dir / "dog_bark.wav", tasks=[])[-1]
    assert status.startswith("⚠️ **No task selected**")
    desed = client.predict("desed", studio.settings.model, api_name="/preset_sed")
    assert desed.splitlines()[:2] == ["Alarm_bell_ringing", "Blender"] and len(desed.splitlines()) == 10
    own = client.predict(PRESET_MODEL, studio.settings.model, api_name="/preset_tal")
    assert tuple(own.splitlines()) == studio.load_model(studio.settings.model).task("TAL").labels


def test_two_sessions_never_see_each_others_results(server, studio, media_dir, tmp_path):
    from gradio_client import Client

    alice = Client(server.local_url, verbose=False, download_files=str(tmp_path / "a"), analytics_enabled=False)
    bob = Client(server.local_url, verbose=False, download_files=str(tmp_path / "b"), analytics_enabled=False)
    run(alice, studio, media_dir / "chaplin.mp4")
    assert update(bob, studio)[4] == {"__type__": "update"}  # bob has nothing to update
    run(bob, studio, media_dir / "dog_bark.wav", tasks=["SED"])
    *_, json_file, _, status = update(alice, studio, labels={"TAL": ["alice label"]})
    assert "chaplin.mp4" in status and json.loads(Path(json_file).read_text())["file"] == "chaplin.mp4"
    *_, json_file, _, status = update(bob, studio, tasks=["SED"])
    assert "dog\\_bark.wav" in status and json.loads(Path(json_file).read_text())["file"] == "dog_bark.wav"


def test_queue_concurrency_and_upload_limit(server, studio, media_dir):
    assert server._queue.default_concurrency_limit == studio.settings.concurrency
    assert server._queue.max_size == studio.settings.queue_size
    assert server.max_file_size == 50 * 1024 * 1024
    # the server itself refuses an upload over the limit (not only the browser)
    big = b"\0" * (50 * 1024 * 1024 + 1)
    resp = httpx.post(
        f"{server.local_url}gradio_api/upload", files={"files": ("big.mp4", big, "video/mp4")}, timeout=60
    )
    assert resp.status_code == 413 and "maximum allowed size" in resp.text
