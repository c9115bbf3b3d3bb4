"""The studio: its pieces (settings, messages, vocabularies, model loading) and the Gradio app itself,
started on localhost and driven through `gradio_client` like any API user would."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import socket
from pathlib import Path

import httpx
import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.helpers import signal_model_config, write_test_clip
from uniav.config import Provenance, TaskProvenance
from uniav.defaults import BUNDLED_MODEL_NAME, bundled_model_dir
from uniav.media import MediaError
from uniav.model.uniav import UniAV
from uniav.studio import (
    PAGE_TASKS,
    PRESET_MODEL,
    ModelRef,
    ModelRegistry,
    Session,
    SettingsError,
    Studio,
    StudioError,
    StudioSettings,
    TaskFields,
    TaskSettings,
    describe_error,
    knowledge_notice,
    list_examples,
    load_examples,
    md_escape,
    model_panel,
    preset_labels,
    settings_from_fields,
    task_note,
    without_paths,
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


# what the stand-in model says it was trained on: TAL synthetic, AVEL real, SED not recorded
PROVENANCE = Provenance(
    tasks={
        "TAL": TaskProvenance("generated clips of moving shapes", real=False),
        "AVEL": TaskProvenance("recorded street scenes", real=True),
    }
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A small untrained model on the `signal` encoder (stands in for the bundled model), with a model card."""
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("model") / "tiny-signal"
    card = "---\nlicense: mit\n---\n# Tiny signal model\n\nA stand-in for tests.\n"
    UniAV(signal_model_config(provenance=PROVENANCE)).save_pretrained(out, model_card=card)
    return out


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory) -> Path:
    """The project's example clips when there are some, else a generated one."""
    if list_examples(REPO_ROOT / "assets" / "examples"):
        return REPO_ROOT / "assets" / "examples"
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
) -> dict:
    """The panels' values by parameter name (``template_tal``, ``labels_tal``, ``threshold_tal``...)."""
    model = studio.load_model(studio.settings.model)
    out = {}
    for t in TASKS:
        names = TaskFields(t)
        labs = (labels or {}).get(t) or list(model.task(t).labels)
        out[names.template] = (templates or {}).get(t, TEMPLATES[t])
        out[names.labels] = "\n".join(labs)
        out[names.threshold] = threshold
        out[names.top_k] = top_k
    return out


def run(client, studio, path, tasks=TASKS, model=None, **kw):
    from gradio_client import handle_file

    return client.predict(
        file=handle_file(str(path)),
        model=model or studio.settings.model,
        tasks=list(tasks),
        **task_values(studio, **kw),
        api_name="/run",
    )


def update(client, studio, tasks=TASKS, **kw):
    return client.predict(tasks=list(tasks), **task_values(studio, **kw), api_name="/update")


SKIP = {"__type__": "update"}  # an output the event left as it was


def figure(plot) -> dict:
    assert plot["type"] == "plotly"
    return json.loads(plot["plot"])


def annotations(fig: dict) -> list[str]:
    return [a["text"] for a in fig["layout"].get("annotations", [])]


def no_server_path(text: str, *folders: Path) -> bool:
    """`text` names none of `folders` nor Gradio's upload folder."""
    import tempfile

    gradio_dir = os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
    return not any(str(f) in text for f in (*folders, gradio_dir))


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
            "UNIAV_CACHE_TTL": "120",
            "HF_TOKEN": " hf_secret ",
            "GRADIO_SERVER_NAME": "0.0.0.0",
            "GRADIO_SERVER_PORT": "8080",
        }
    )
    assert (s.model, s.cache_dir, s.concurrency, s.queue_size) == ("me/model@v2", Path("/tmp/c"), 3, 9)
    assert (s.examples_dir, s.server_name, s.server_port, s.cache_ttl_s) == (Path("/tmp/ex"), "0.0.0.0", 8080, 120)
    assert s.max_upload_bytes == 524288 and s.max_upload_text == "0.5 MB"
    assert s.hf_token == "hf_secret" and "hf_secret" not in repr(s)  # the token is never printed
    d = StudioSettings.from_env({})
    assert d.model == str(bundled_model_dir()) and d.cache_dir is None and d.hf_token is None
    assert (d.max_upload_mb, d.concurrency, d.server_name, d.server_port, d.cache_ttl_s) == (
        200.0,
        2,
        "127.0.0.1",
        7860,
        3600,
    )
    assert d.examples_dir.resolve() == (REPO_ROOT / "assets" / "examples").resolve()
    with pytest.raises(SettingsError, match="UNIAV_CONCURRENCY must be an integer, got 'two'"):
        StudioSettings.from_env({"UNIAV_CONCURRENCY": "two"})
    with pytest.raises(SettingsError, match="UNIAV_MAX_UPLOAD_MB must be at least"):
        StudioSettings.from_env({"UNIAV_MAX_UPLOAD_MB": "0"})
    with pytest.raises(SettingsError, match="UNIAV_CACHE_TTL must be at least 1"):
        StudioSettings.from_env({"UNIAV_CACHE_TTL": "0"})
    with pytest.raises(SettingsError, match="GRADIO_SERVER_PORT must be between 1 and 65535"):
        StudioSettings.from_env({"GRADIO_SERVER_PORT": "70000"})


def test_examples_are_the_mp4_and_wav_files_named_by_their_description(tmp_path, caplog):
    for name in ("b_dog-bark.wav", "a.mp4", "notes.txt", "c.mp3", "sub/d.mp4", ".hidden/e.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty.mp4").touch()
    found = ["a.mp4", "b_dog-bark.wav", "sub/d.mp4"]
    assert [p.relative_to(tmp_path).as_posix() for p in list_examples(tmp_path)] == found
    assert list_examples(tmp_path / "missing") == [] and load_examples(tmp_path / "missing") == ()
    # without examples.json: readable file names
    assert [e.label for e in load_examples(tmp_path)] == ["a", "b dog bark", "d"]
    # with it: descriptions by relative path or bare name; the others keep their file names
    descriptions = {"sub/d.mp4": "A door   knocks twice", "a.mp4": "A ball bounces", "gone.mp4": "not there"}
    (tmp_path / "examples.json").write_text(json.dumps(descriptions))
    examples = load_examples(tmp_path)
    assert [(e.path.relative_to(tmp_path).as_posix(), e.label) for e in examples] == [
        ("a.mp4", "A ball bounces"),
        ("b_dog-bark.wav", "b dog bark"),
        ("sub/d.mp4", "A door knocks twice"),
    ]
    (tmp_path / "examples.json").write_text('{"a.mp4": 3}')
    with caplog.at_level(logging.WARNING, logger="uniav.studio"):
        assert [e.label for e in load_examples(tmp_path)] == ["a", "b dog bark", "d"]
    assert "examples.json must map clip paths to descriptions" in caplog.text
    # the project's examples: all described (the file is data: whoever makes the examples writes it)
    project = load_examples(REPO_ROOT / "assets" / "examples")
    listed = json.loads((REPO_ROOT / "assets" / "examples" / "examples.json").read_text())
    assert project and {e.label for e in project} <= set(listed.values())


def test_errors_become_specific_messages_without_server_paths(caplog):
    err = describe_error(MediaError("/tmp/gradio/abc/clip.mp4", "empty file (0 bytes)"), "analyse clip.mp4")
    assert (err.title, err.detail) == ("Cannot read clip.mp4", "empty file (0 bytes)")
    err = describe_error(
        MediaError("/tmp/gradio/2b9c/image.mp4", "decord failed: [/tmp/gradio/2b9c/image.mp4] broken metadata"), "x"
    )
    assert err.detail == "decord failed: [image.mp4] broken metadata"
    err = describe_error(KeyError("unknown task 'XYZ'"), "run")
    assert err.detail == "unknown task 'XYZ'"  # not the repr KeyError would give
    err = describe_error(
        ValueError("bad /tmp/gradio/abc/x.mp4 here"), "analyse x.mp4", aliases={"/tmp/gradio/abc/x.mp4": "x.mp4"}
    )
    assert err.detail == "bad x.mp4 here"
    assert (
        without_paths("no '/srv/app/data/clip.webm' at http://host/a/b, 1/25 s")
        == "no 'clip.webm' at http://host/a/b, 1/25 s"
    )
    with caplog.at_level(logging.ERROR, logger="uniav.studio"):
        err = describe_error(ZeroDivisionError("boom"), "analyse x.mp4")
    assert err.detail == "unexpected ZeroDivisionError; the details are in the server log"
    assert "Traceback" not in err.markdown() and "ZeroDivisionError: boom" in caplog.text
    assert StudioError("Cannot read a_b.mp4", "x").markdown() == "⚠️ **Cannot read a\\_b.mp4**: x"


def test_task_settings_validate_what_the_user_typed_and_come_by_name(studio):
    task = studio.load_model(studio.settings.model).task("SED")
    s = TaskSettings.from_ui("the sound of {label}", " dog \n\n car horn\n", 1.7, 500.0)
    assert (s.threshold, s.top_k) == (1.0, 100)
    vocab = s.vocabulary(task)
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
            TaskSettings.from_ui(tpl, labels, 0.1, 5).vocabulary(task)
    model = studio.load_model(studio.settings.model)
    assert preset_labels(PRESET_MODEL, model.task("SED")) == model.task("SED").labels
    assert len(preset_labels("unav100", None)) == 100 and len(preset_labels("desed", None)) == 10
    with pytest.raises(StudioError, match="load a model"):
        preset_labels(PRESET_MODEL, None)
    names = TaskFields("SED")
    assert (names.template, names.labels, names.threshold, names.top_k) == (
        "template_sed",
        "labels_sed",
        "threshold_sed",
        "top_k_sed",
    )
    got = settings_from_fields({"labels_sed": "dog", "threshold_sed": 0.4, "template_sed": "{label}"}, ["SED"])
    assert got == {"SED": TaskSettings("{label}", "dog", 0.4, 20)}  # top_k_sed missing: its default


def test_model_refs_and_registry(model_dir, tmp_path, monkeypatch):
    assert ModelRef.parse("owner/name@v1") == ModelRef("owner/name", "v1")
    assert ModelRef.parse(f" {model_dir} ") == ModelRef(str(model_dir))
    assert ModelRef.parse(str(bundled_model_dir())).label == f"{BUNDLED_MODEL_NAME} (bundled)"
    assert ModelRef.parse(str(model_dir)).label == model_dir.name  # not the server's folders
    assert ModelRef.parse("runs/x/model").label == "runs/x/model" and ModelRef("o/n", "v1").label == "o/n@v1"
    with pytest.raises(StudioError, match="No model given"):
        ModelRef.parse("  ")
    calls = []

    def loader(folder, cache):
        calls.append(folder)
        from uniav.pipeline.detector import Detector

        return Detector.from_pretrained(folder, feature_cache=cache)

    reg = ModelRegistry(max_models=1, loader=loader)
    other = tmp_path / "other"
    torch.manual_seed(1)
    UniAV(signal_model_config()).save_pretrained(other)
    first = reg.get(str(model_dir))
    assert reg.get(str(model_dir)) is first and calls == [model_dir]
    assert first.folder == model_dir and first.card == "# Tiny signal model\n\nA stand-in for tests."
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

    # a Hub model is fetched with the token the studio read from HF_TOKEN at start-up (private models)
    fetched = []

    def resolve(name, revision=None, cache_dir=None, token=None):
        fetched.append((name, revision, token))
        return model_dir

    monkeypatch.setattr("uniav.studio.models.resolve_model_dir", resolve)
    studio = Studio(StudioSettings.from_env({"UNIAV_MODEL": "me/private@v2", "HF_TOKEN": "hf_abc"}))
    assert studio.load_model("me/private@v2").ref.label == "me/private@v2"
    assert fetched == [("me/private", "v2", "hf_abc")]


def test_what_the_page_says_the_model_knows(studio, model_dir):
    model = studio.load_model(studio.settings.model)
    cfg = model.detector.config
    notice = knowledge_notice(model)
    synthetic = [t for t, p in PROVENANCE.tasks.items() if p.real is False]
    assert f"trained on synthetic clips only for {', '.join(synthetic)}" in notice
    assert "does not record what SED was trained on" in notice
    for task in cfg.tasks:  # every task's class count and first classes, from the model's own config
        assert f"**{task.name}** knows {task.num_classes} classes: {md_escape(task.labels[0])}" in notice
    assert "Models for real videos" in notice
    panel = model_panel(model, PAGE_TASKS)
    assert panel.startswith("✅ Model **") and all(md_escape(x) in panel for t in cfg.tasks for x in t.labels)
    assert model_dir.name in notice and no_server_path(notice, model_dir)
    assert "generated clips of moving shapes" in panel and "uniav convert-official" in panel
    assert "text encoder: signal" in panel
    assert "synthetic training data only" in task_note(model, "TAL")
    assert f"knows {cfg.task('AVEL').num_classes} AVEL classes" in task_note(model, "AVEL")
    assert "load one in the **Model** box" in task_note(None, "TAL")


def test_a_file_is_checked_before_the_analysis(studio, media_dir, tmp_path):
    from PIL import Image

    session = Session()
    check = studio.check_file(session, str(media_dir / "chaplin.mp4"))
    assert check.player == "video" and check.status.startswith("**chaplin.mp4** · 9.6 s · video with sound")
    assert studio.check_file(session, str(media_dir / "crunching.mp3")).player == "audio"
    image = tmp_path / "server-side" / "image.mp4"
    image.parent.mkdir()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(image, format="PNG")
    check = studio.check_file(session, str(image))
    assert check.player is None and check.status.startswith("⚠️ **Cannot read image.mp4**: a still image (PNG)")
    assert no_server_path(check.status, tmp_path)
    assert studio.check_file(session, None).status == ""
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "unsupported file type" in studio.check_file(session, str(text)).status
    # an upload the server deleted since (older than the cache's lifetime) says what to do
    settings = settings_from_fields(task_values(studio))
    with pytest.raises(StudioError, match="no longer holds this file .* upload it again") as err:
        studio.analyze(session, str(tmp_path / "gone.mp4"), studio.settings.model, ["SED"], settings)
    assert err.value.title == "Cannot read gone.mp4"


def test_notes_from_an_older_cache_never_show_its_paths(studio, media_dir):
    import dataclasses

    session = Session()
    settings = settings_from_fields(task_values(studio))
    studio.analyze(session, str(media_dir / "no_audio_2s.mp4"), studio.settings.model, ["TAL"], settings)
    old = "frames decoded with PyAV (decord failed: [/srv/old-folder/no_duration.webm] broken metadata)"
    analysis = dataclasses.replace(session.clip.analysis, notes=(old,))
    session.clip = dataclasses.replace(session.clip, analysis=analysis)
    view = studio.update(session, ["TAL"], settings)
    assert view.result.notes == ("frames decoded with PyAV (decord failed: [no_duration.webm] broken metadata)",)
    assert json.loads(view.json_path.read_text())["notes"] == list(view.result.notes)
    assert "old-folder" not in view.status and "decord failed" in view.status


# ---- the app through gradio_client --------------------------------------------------------------
def test_every_endpoint_and_parameter_is_named(client):
    info = client.view_api(return_format="dict", print_info=False)
    endpoints = info["named_endpoints"]
    assert set(endpoints) == {"/run", "/update", "/load_model", "/preset_tal", "/preset_avel", "/preset_sed"}
    assert not info["unnamed_endpoints"]
    fields = [getattr(TaskFields(t), part) for t in TASKS for part in ("template", "labels", "threshold", "top_k")]
    params = {name: [p["parameter_name"] for p in ep["parameters"]] for name, ep in endpoints.items()}
    assert params["/run"] == ["file", "model", "tasks", *fields]
    assert params["/update"] == ["tasks", *fields]
    assert params["/load_model"] == ["model"] and params["/preset_sed"] == ["preset", "model"]
    assert "threshold_sed" in params["/run"] and "labels_tal" in params["/run"]
    assert not any(n.startswith("param_") for names in params.values() for n in names)
    returns = [r["label"] for r in endpoints["/run"]["returns"]]
    assert returns == ["Timeline", "Detections, by start time", "Download JSON", "Download CSV", "Status", "Message"]
    assert [r["label"] for r in endpoints["/update"]["returns"]] == returns
    assert not any(r["label"].startswith("value_") for ep in endpoints.values() for r in ep["returns"])


def test_run_on_a_real_clip_gives_timeline_table_and_downloads(client, studio, media_dir):
    plot, table, json_file, csv_file, status, message = run(client, studio, media_dir / "chaplin.mp4")
    fig = figure(plot)
    assert {tr["type"] for tr in fig["data"]} == {"bar"} and len(fig["data"]) == 3  # one per lane
    titles = [a for a in annotations(fig) if a.startswith("<b>")][:3]
    assert titles[0].startswith("<b>TAL · visual actions</b> · 8 detections · ")
    assert "synthetic training data only" in titles[0]  # the stand-in's TAL is synthetic (PROVENANCE)
    assert titles[1] == "<b>AVEL · audio-visual events</b> · 8 detections"  # real: no remark
    assert titles[2].startswith("<b>SED · sound events</b> · 8 detections · ") and "not recorded" in titles[2]
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
    # the table and the CSV list the same detections in the same order
    assert [r[:2] for r in rows] == [r[:2] for r in csv_rows[1:]]
    assert "**chaplin.mp4** · 9.6 s · video with sound" in status and "analysed in" in status
    assert message == ""


def test_example_clip_is_offered_by_its_description_and_runs(client, server, studio, examples_dir):
    example = studio.examples[0]
    assert examples_dir in example.path.parents
    config = httpx.get(f"{server.local_url}config", timeout=10).json()
    samples = [c["props"].get("samples") for c in config["components"] if c.get("type") == "dataset"]
    assert samples == [[[e.label] for e in studio.examples]]  # names, not server paths
    assert no_server_path(json.dumps(samples), examples_dir)
    *_, json_file, _, status, _ = run(client, studio, example.path)
    assert json.loads(Path(json_file).read_text())["file"] == example.path.name


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

    plot, table, json_file, _, status, _ = update(
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
    assert set(lanes["yaxis"]["ticktext"]) <= {"juggling", "skating", "surfing"}
    assert "without re-encoding" in status and len(table["data"]) == 9

    detected, real_detect_all = [], detector.detect_all

    def counting_detect_all(analysis, vocabulary, *args, **kwargs):
        detected.append(vocabulary.task)
        return real_detect_all(analysis, vocabulary, *args, **kwargs)

    monkeypatch.setattr(detector, "detect_all", counting_detect_all)
    edit = {"labels": {"TAL": ["juggling", "skating", "surfing"]}, "templates": {"SED": "the sound of a {label}"}}
    plot, *_, status, _ = update(client, studio, threshold=1.0, **edit)  # nothing scores 1.0
    assert [tr["type"] for tr in figure(plot)["data"]] == ["scatter"] * 3  # empty lanes
    assert "TAL: none with score ≥ 1.00" in status
    assert detected == []  # a threshold edit only filters the last detections
    *_, json_file, _, _, _ = update(
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
    *_, status, _ = run(client, studio, media_dir / "chaplin.mp4")
    assert "analysis reused from the cache" in status and calls == {"decode+encode": 0, "backbone": 0}


def test_a_bad_edit_marks_the_timeline_out_of_date_keeps_the_status_and_says_why(client, studio, media_dir):
    first_plot, *_, first_status, _ = run(client, studio, media_dir / "chaplin.mp4")
    plot, table, json_file, csv_file, status, message = update(client, studio, labels={"SED": ["dog", "cat", "dog"]})
    assert (table, json_file, csv_file, status) == (SKIP, SKIP, SKIP, SKIP)  # the last result and its status stay
    assert message == "⚠️ **SED labels**: each label once, please; repeated: dog"
    stale = figure(plot)
    assert any(a.startswith("<b>Out of date</b>: SED labels: each label once") for a in annotations(stale))
    assert len(stale["data"]) == len(figure(first_plot)["data"])  # the same bars, greyed out
    *_, message = update(client, studio, templates={"AVEL": "an event"})
    assert "AVEL prompt template" in message and "no \\{label\\} placeholder" in message
    # a good edit brings a current timeline back and clears the message
    plot, *_, status, message = update(client, studio)
    assert message == "" and "without re-encoding" in status
    assert not any(a.startswith("<b>Out of date") for a in annotations(figure(plot)))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("not_a_video.mp4", "not a media file: it contains text, not audio or video"),
        ("empty.mp4", "empty file (0 bytes)"),
        ("truncated.mp4", "the file is truncated"),
    ],
)
def test_bad_files_get_a_specific_message_and_the_app_keeps_working(client, studio, media_dir, name, reason):
    plot, table, json_file, csv_file, status, _ = run(client, studio, media_dir / name)
    escaped = name.replace("_", "\\_")
    assert status.startswith(f"⚠️ **Cannot read {escaped}**: ") and reason in status
    assert "Traceback" not in status and no_server_path(status, media_dir)
    assert figure(plot)["data"] == [] and table["data"] == [] and json_file is None and csv_file is None
    # an edit after a failed run has nothing to update, and the next upload works
    assert update(client, studio)[4] == SKIP
    *_, json_file, _, status, _ = run(client, studio, media_dir / "dog_bark.wav", tasks=["SED"])
    assert json.loads(Path(json_file).read_text())["file"] == "dog_bark.wav"


def test_a_still_image_named_like_a_video_is_not_analysed(client, studio, tmp_path):
    from PIL import Image

    image = tmp_path / "image_renamed.mp4"
    Image.new("RGB", (64, 48), (10, 120, 200)).save(image, format="PNG")
    plot, table, json_file, _, status, _ = run(client, studio, image)
    assert status.startswith("⚠️ **Cannot read image\\_renamed.mp4**: a still image (PNG), not a video")
    assert json_file is None and table["data"] == [] and no_server_path(status, tmp_path)


def test_cached_notes_never_name_the_folder_a_clip_was_first_read_from(client, studio, tmp_path):
    import av
    import numpy as np

    first = tmp_path / "first-folder" / "no_duration.webm"
    first.parent.mkdir()
    with av.open(str(first), "w", options={"live": "1"}) as out:  # as browsers record: no duration in the header
        stream = out.add_stream("libvpx", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(40):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 5 * i, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    second = tmp_path / "second-folder" / "no_duration.webm"
    second.parent.mkdir()
    shutil.copy(first, second)
    statuses = [run(client, studio, path, tasks=["TAL"])[4] for path in (first, second)]
    assert "analysis reused from the cache" in statuses[1]  # same content: the cached features and their notes
    for status in statuses:
        assert "decoded with PyAV" in status  # the note is there, without any path
        assert no_server_path(status, tmp_path) and "first-folder" not in status


def test_audio_only_and_silent_video_skip_the_tasks_they_cannot_run(client, studio, media_dir):
    plot, table, json_file, _, status, _ = run(client, studio, media_dir / "crunching.mp3")
    data = json.loads(Path(json_file).read_text())
    assert set(data["skipped"]) == {"TAL", "AVEL"} and list(data["tasks"]) == ["SED"]
    assert "audio-only input" in data["skipped"]["TAL"]
    assert sum(a.startswith("not run: TAL needs the picture") for a in annotations(figure(plot))) == 1
    assert "audio only" in status and "TAL not run:" in status and "no video track" in status

    *_, json_file, _, status, _ = run(client, studio, media_dir / "no_audio_2s.mp4")
    data = json.loads(Path(json_file).read_text())
    assert set(data["skipped"]) == {"AVEL", "SED"} and list(data["tasks"]) == ["TAL"]
    assert "video without sound" in status and "no audio track" in status


def test_a_model_that_fails_to_load_is_reported_and_the_app_recovers(client, studio, media_dir, tmp_path):
    from gradio_client import handle_file

    model_md, *rest = client.predict(model=str(tmp_path / "no-such-model"), api_name="/load_model")
    assert (
        model_md.startswith("⚠️ **Could not load the model") and "neither a model folder nor a Hub repo id" in model_md
    )
    assert rest[-1] == model_md  # the message under the status says it too (the Model box may be closed)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"tasks": []}')
    (broken / "model.safetensors").write_bytes(b"0")
    status = run(client, studio, media_dir / "dog_bark.wav", tasks=["SED"], model=str(broken))[4]
    assert status.startswith("⚠️ **Could not load the model") and "invalid UniAV configuration" in status
    out = client.predict(model=studio.settings.model, api_name="/load_model")
    assert out[0].startswith("✅ Model") and out[-1] == "" and all(x == SKIP for x in out[1:-1])  # shown already
    *_, status, _ = run(client, studio, media_dir / "dog_bark.wav", tasks=["SED"])
    assert status.startswith("**dog\\_bark.wav**")

    # a model serving a subset of the tasks: its tasks, its labels, the other panels hidden
    sed_only = tmp_path / "sed-only"
    cfg = signal_model_config()
    torch.manual_seed(2)
    UniAV(cfg.replace(tasks=(cfg.task("SED"),))).save_pretrained(sed_only)
    model_md, card, notice, tasks, *rest = client.predict(model=str(sed_only), api_name="/load_model")
    # (the tabs' visibility is a layout update the API does not return: the browser test sees the page)
    per_task, (plot, table, json_file, _, status, _) = rest[:12], rest[12:]
    assert model_md.startswith("✅ Model") and "tasks: SED (6 labels)" in model_md
    assert "**SED** knows 6 classes" in notice and "TAL" not in notice and card.startswith("# UniAV")
    assert tasks["choices"] == [["SED", "SED"]] and tasks["value"] == ["SED"]
    assert per_task[:8] == [SKIP, SKIP, SKIP, "No model serves this task: load one in the **Model** box."] * 2
    assert per_task[8:11] == ["A sound event of {label}.", "\n".join(cfg.task("SED").labels), PRESET_MODEL]
    assert "knows 6 SED classes" in per_task[11]
    assert "press **Detect**" in status and json_file["value"] is None and table["data"] == []
    assert annotations(figure(plot)) == ["model changed: press Detect"]
    assert update(client, studio, tasks=["SED"])[4] == SKIP  # the last clip was the other model's
    *_, json_file, _, status, _ = client.predict(
        file=handle_file(str(media_dir / "dog_bark.wav")),
        model=str(sed_only),
        tasks=["SED"],
        **task_values(studio),
        api_name="/run",
    )
    assert list(json.loads(Path(json_file).read_text())["tasks"]) == ["SED"]


def test_missing_file_or_task_and_presets(client, studio, media_dir):
    status = client.predict(
        file=None, model=studio.settings.model, tasks=["SED"], **task_values(studio), api_name="/run"
    )[4]
    assert status.startswith("⚠️ **No file**")
    status = run(client, studio, media_dir / "dog_bark.wav", tasks=[])[4]
    assert status.startswith("⚠️ **No task selected**")
    desed, message = client.predict(preset="desed", model=studio.settings.model, api_name="/preset_sed")
    assert desed.splitlines()[:2] == ["Alarm_bell_ringing", "Blender"] and len(desed.splitlines()) == 10
    assert message == ""
    own, _ = client.predict(preset=PRESET_MODEL, model=studio.settings.model, api_name="/preset_tal")
    assert tuple(own.splitlines()) == studio.load_model(studio.settings.model).task("TAL").labels


def test_two_sessions_never_see_each_others_results(server, studio, media_dir, tmp_path):
    from gradio_client import Client

    alice = Client(server.local_url, verbose=False, download_files=str(tmp_path / "a"), analytics_enabled=False)
    bob = Client(server.local_url, verbose=False, download_files=str(tmp_path / "b"), analytics_enabled=False)
    run(alice, studio, media_dir / "chaplin.mp4")
    assert update(bob, studio)[4] == SKIP  # bob has nothing to update
    run(bob, studio, media_dir / "dog_bark.wav", tasks=["SED"])
    *_, json_file, _, status, _ = update(alice, studio, labels={"TAL": ["alice label"]})
    assert "chaplin.mp4" in status and json.loads(Path(json_file).read_text())["file"] == "chaplin.mp4"
    *_, json_file, _, status, _ = update(bob, studio, tasks=["SED"])
    assert "dog\\_bark.wav" in status and json.loads(Path(json_file).read_text())["file"] == "dog_bark.wav"


def test_queue_concurrency_cache_lifetime_and_upload_limit(server, studio, media_dir):
    assert server._queue.default_concurrency_limit == studio.settings.concurrency
    assert server._queue.max_size == studio.settings.queue_size
    assert server.max_file_size == 50 * 1024 * 1024
    assert server.delete_cache == (studio.settings.cache_ttl_s, studio.settings.cache_ttl_s)
    # the server itself refuses an upload over the limit (not only the browser)
    big = b"\0" * (50 * 1024 * 1024 + 1)
    resp = httpx.post(
        f"{server.local_url}gradio_api/upload", files={"files": ("big.mp4", big, "video/mp4")}, timeout=60
    )
    assert resp.status_code == 413 and "maximum allowed size" in resp.text
