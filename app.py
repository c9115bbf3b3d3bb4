"""UniAV Studio: the Gradio app. Layout and event wiring only; the work is in `uniav.studio`.

The page is put together from small builders, one per panel, each returning a frozen record of its
components. Events take their inputs from those records by name (``inputs_kwargs``), so `gradio_client`
users call ``/run`` with ``file``, ``model``, ``tasks``, ``labels_sed``, ``threshold_tal``... (`TaskFields`),
and handlers return ``{component: value}`` for what they change: no count of outputs is kept by hand.

Run ``python app.py`` (settings from environment variables: see `uniav.studio.settings`).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import gradio as gr

from uniav.defaults import BUNDLED_MODEL_NAME, DEFAULT_THRESHOLD, DEFAULT_TOP_K, bundled_model_dir
from uniav.studio import (
    MAX_TOP_K,
    MEDIA_EXTENSIONS,
    PAGE_TASKS,
    PAPER_PRESET,
    PRESET_MODEL,
    LoadedModel,
    ModelRef,
    Session,
    SettingsError,
    Studio,
    StudioError,
    StudioSettings,
    TaskFields,
    View,
    close_session,
    default_template,
    describe_error,
    detection_table,
    empty_timeline,
    knowledge_notice,
    labels_text,
    model_panel,
    preset_choices,
    preset_labels,
    settings_from_fields,
    task_note,
    task_title,
)
from uniav.vocabularies import load_vocabulary

log = logging.getLogger("uniav.studio")
INTRO = """# UniAV Studio
One model localizes **visual actions** (TAL), **audio-visual events** (AVEL) and **sound events** (SED) in a clip.
Upload a video or an audio file and press **Detect**. Then edit a task's prompt template or labels, one per line:
the clip is compared with the text of each prompt, so you can type any label, and the timeline follows your edits
without analysing the clip again. How much a label means depends on what the model learnt: see the notice below."""
START_TIMELINE = "Upload a video or an audio file (or pick an example), then press Detect"
CSS = """
#status { min-height: 2.5em; }
#timeline { min-height: 180px; }
#message:not(:empty) { border-left: 4px solid #d39e00; padding-left: 0.6em; }
#model-notice { font-size: 0.92em; }
"""


def shown_tasks(model: LoadedModel | None) -> list[str]:
    """The model's tasks that the page has panels for (all panels when no model is loaded)."""
    return [t for t in model.tasks if t in PAGE_TASKS] if model is not None else list(PAGE_TASKS)


# ---- panels -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputPanel:
    """The file, the example clips, the tasks to run and the Detect button."""

    file: gr.File
    examples: gr.Dataset | None
    tasks: gr.CheckboxGroup
    run: gr.Button


def input_panel(studio: Studio, served: list[str]) -> InputPanel:
    settings = studio.settings
    file = gr.File(
        label=f"Video or audio file (up to {settings.max_upload_text})",
        file_types=list(MEDIA_EXTENSIONS),
        type="filepath",
        elem_id="upload",
    )
    examples = None
    if studio.examples:
        examples = gr.Dataset(
            components=["textbox"],
            samples=[[example.label] for example in studio.examples],
            type="index",
            label="Example clips",
            samples_per_page=12,
            elem_id="examples",
        )
    else:
        gr.Markdown(f"*No example clips found in `{settings.examples_dir.name}/`.*")
    tasks = gr.CheckboxGroup(choices=served, value=served, label="Tasks to run", elem_id="tasks")
    run = gr.Button("Detect", variant="primary", elem_id="run")
    return InputPanel(file, examples, tasks, run)


@dataclass(frozen=True)
class ModelPanel:
    """The model chooser, what the loaded model knows, and its model card."""

    choice: gr.Dropdown
    load: gr.Button
    status: gr.Markdown
    card: gr.Markdown


def model_box(studio: Studio, model: LoadedModel | None, status: str) -> ModelPanel:
    settings = studio.settings
    with gr.Accordion("Model", open=model is None, elem_id="model-box"):
        choices = [(f"bundled: {BUNDLED_MODEL_NAME}", str(bundled_model_dir()))]
        if settings.model != str(bundled_model_dir()):
            choices.append((ModelRef.parse(settings.model).label, settings.model))
        choice = gr.Dropdown(
            choices=choices,
            value=settings.model,
            allow_custom_value=True,
            label="Model folder or Hub repo id (owner/name[@revision])",
            elem_id="model",
        )
        load = gr.Button("Load model", size="sm", elem_id="load-model")
        status_md = gr.Markdown(status, label="Model", elem_id="model-status")
        with gr.Accordion("Model card", open=False, elem_id="model-card-box"):
            card = gr.Markdown(_card(model), label="Model card", elem_id="model-card")
    return ModelPanel(choice, load, status_md, card)


def _card(model: LoadedModel | None) -> str:
    if model is None:
        return "*No model loaded.*"
    return model.card or f"*{model.ref.label} has no model card (README.md).*"


@dataclass(frozen=True)
class TaskPanel:
    """One task's tab: prompt template, vocabulary preset, labels, threshold, maximum, and what the model knows."""

    task: str
    tab: gr.Tab
    template: gr.Textbox
    preset: gr.Dropdown
    labels: gr.Textbox
    threshold: gr.Slider
    top_k: gr.Slider
    note: gr.Markdown

    @property
    def fields(self) -> dict[str, gr.components.Component]:
        """The four settings by their parameter names (`TaskFields`)."""
        names = TaskFields(self.task)
        return {
            names.template: self.template,
            names.labels: self.labels,
            names.threshold: self.threshold,
            names.top_k: self.top_k,
        }

    @property
    def on_model(self) -> list:
        """What a new model changes in the tab."""
        return [self.tab, self.template, self.labels, self.preset, self.note]

    def for_model(self, model: LoadedModel) -> dict:
        """The tab for `model`: hidden if it does not serve the task, else its template and training labels."""
        if self.task not in shown_tasks(model):
            return {self.tab: gr.Tab(visible=False), self.note: task_note(None, self.task)}
        cfg = model.task(self.task)
        return {
            self.tab: gr.Tab(visible=True),
            self.template: default_template(cfg, self.task),
            self.labels: labels_text(cfg.labels),
            self.preset: PRESET_MODEL,
            self.note: task_note(model, self.task),
        }


def task_panel(task: str, model: LoadedModel | None) -> TaskPanel:
    served = task in shown_tasks(model)
    cfg = model.task(task) if model is not None and served else None
    vocab = cfg.labels if cfg is not None else load_vocabulary(PAPER_PRESET[task])
    with gr.Tab(task_title(task), id=task, visible=served, elem_id=f"tab-{task}") as tab:
        with gr.Row():
            template = gr.Textbox(
                default_template(cfg, task),
                label=f"{task} prompt template",
                scale=3,
                info="{label} is replaced by each label",
                elem_id=f"template-{task}",
            )
            preset = gr.Dropdown(
                preset_choices(),
                value=PRESET_MODEL if cfg else PAPER_PRESET[task],
                label=f"{task} vocabulary preset",
                scale=2,
                elem_id=f"preset-{task}",
            )
        labels = gr.Textbox(
            labels_text(vocab), label=f"{task} labels (one per line)", lines=8, max_lines=14, elem_id=f"labels-{task}"
        )
        note = gr.Markdown(task_note(model, task), label=f"What the model knows of {task}", elem_id=f"note-{task}")
        with gr.Row():
            threshold = gr.Slider(
                0.0,
                1.0,
                value=DEFAULT_THRESHOLD,
                step=0.01,
                label=f"{task} score threshold",
                elem_id=f"threshold-{task}",
            )
            top_k = gr.Slider(
                1, MAX_TOP_K, value=DEFAULT_TOP_K, step=1, label=f"{task} max detections", elem_id=f"topk-{task}"
            )
    return TaskPanel(task, tab, template, preset, labels, threshold, top_k, note)


@dataclass(frozen=True)
class ResultsPanel:
    """What the model knows, the status, the last action's problem, the player, the timeline, the table and
    the downloads."""

    notice: gr.Markdown
    status: gr.Markdown
    message: gr.Markdown
    video: gr.Video
    audio: gr.Audio
    timeline: gr.Plot
    table: gr.Dataframe
    json: gr.DownloadButton
    csv: gr.DownloadButton

    @property
    def outputs(self) -> list:
        """What a run or an edit updates (in this order for API clients)."""
        return [self.timeline, self.table, self.json, self.csv, self.status, self.message]

    @property
    def downloads(self) -> list:
        return [self.json, self.csv]

    @property
    def players(self) -> list:
        return [self.video, self.audio]

    def show(self, view: View) -> dict:
        """A result (download buttons get plain paths, so API clients receive the files themselves)."""
        return {
            self.timeline: view.figure,
            self.table: view.table,
            self.json: str(view.json_path),
            self.csv: str(view.csv_path),
            self.status: view.status,
            self.message: "",
        }

    def clear(self, timeline: str, status: str) -> dict:
        """No result: an empty timeline saying why, an empty table, no files."""
        return {
            self.timeline: empty_timeline(timeline),
            self.table: detection_table(None),
            self.json: None,
            self.csv: None,
            self.status: status,
            self.message: "",
        }

    def disable_downloads(self) -> dict:
        return {b: gr.DownloadButton(value=None, interactive=False) for b in self.downloads}

    def play(self, path: str | None, player: str | None) -> dict:
        """The player for a file: the video player for videos (and nothing), the audio player for sound."""
        return {
            self.video: gr.Video(value=path if player == "video" else None, visible=player != "audio"),
            self.audio: gr.Audio(value=path if player == "audio" else None, visible=player == "audio"),
        }


def results_panel(model: LoadedModel | None, notice: str) -> ResultsPanel:
    notice_md = gr.Markdown(notice, label="What the model knows", elem_id="model-notice")
    status = gr.Markdown(elem_id="status", label="Status")
    message = gr.Markdown(elem_id="message", label="Message")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260):
            video = gr.Video(label="Video", interactive=False, elem_id="player-video")
            audio = gr.Audio(label="Audio", interactive=False, visible=False, type="filepath", elem_id="player-audio")
        with gr.Column(scale=3, min_width=420):
            # a figure from the start: the browser loads plotly with the page, not on the first result
            timeline = gr.Plot(empty_timeline(START_TIMELINE), label="Timeline", elem_id="timeline")
    table = gr.Dataframe(
        detection_table(None), label="Detections, by start time", interactive=False, elem_id="detections"
    )
    with gr.Row():
        json_btn = gr.DownloadButton("Download JSON", interactive=False, elem_id="download-json")
        csv_btn = gr.DownloadButton("Download CSV", interactive=False, elem_id="download-csv")
    return ResultsPanel(notice_md, status, message, video, audio, timeline, table, json_btn, csv_btn)


@dataclass(frozen=True)
class Page:
    session: gr.State
    inputs: InputPanel
    model: ModelPanel
    tasks: tuple[TaskPanel, ...]
    results: ResultsPanel

    @property
    def fields(self) -> dict[str, gr.components.Component]:
        """Every task's settings by parameter name."""
        return {name: c for panel in self.tasks for name, c in panel.fields.items()}


# ---- events -------------------------------------------------------------------------------------
def wire_file(studio: Studio, page: Page) -> None:
    res = page.results

    def on_file(file: str | None, session: Session) -> dict:
        check = studio.check_file(session, file)
        if file is None:
            timeline = START_TIMELINE
        else:
            timeline = "Press Detect to analyse this file" if check.player else "This file cannot be analysed"
        return {
            **res.play(file if check.player else None, check.player),
            **res.clear(timeline, check.status),
            **res.disable_downloads(),
        }

    page.inputs.file.change(
        on_file,
        inputs_kwargs={"file": page.inputs.file, "session": page.session},
        outputs=[*res.players, *res.outputs],
        api_visibility="private",
        show_progress="hidden",
    )
    if page.inputs.examples is not None:

        def on_example(index: int | None) -> dict:
            try:
                return {page.inputs.file: str(studio.example(index).path)}
            except StudioError as err:
                return {res.message: err.markdown()}

        page.inputs.examples.click(
            on_example,
            inputs_kwargs={"index": page.inputs.examples},
            outputs=[page.inputs.file, res.message],
            api_visibility="private",
            show_progress="hidden",
        )


def wire_run(studio: Studio, page: Page) -> None:
    res = page.results

    progress_bar = gr.Progress()  # (Gradio recognises the parameter by this default and fills it in)

    def run(file: str | None, model: str, tasks: list[str], session: Session, progress=progress_bar, **fields):
        """Analyse a video or audio file with the tasks and settings given: the timeline, the table, the
        JSON and CSV downloads, the status line and a message (empty unless something went wrong)."""
        try:
            view = studio.analyze(
                session,
                file,
                model,
                tasks,
                settings_from_fields(fields),
                lambda frac, message: progress(frac, desc=message),
            )
        except Exception as exc:  # noqa: BLE001 - a message in the page, never a traceback
            err = describe_error(exc, "detect events")
            return res.clear(err.title, err.markdown())
        return res.show(view)

    def downloads(session: Session) -> dict:
        ready = session.view is not None
        return {b: gr.DownloadButton(interactive=ready) for b in res.downloads}

    page.inputs.run.click(
        run,
        inputs_kwargs={
            "file": page.inputs.file,
            "model": page.model.choice,
            "tasks": page.inputs.tasks,
            "session": page.session,
            **page.fields,
        },
        outputs=res.outputs,
        api_name="run",
        concurrency_id="analysis",
        concurrency_limit=studio.settings.concurrency,
        show_progress_on=[res.timeline],
    ).then(
        downloads,
        inputs_kwargs={"session": page.session},
        outputs=res.downloads,
        api_visibility="private",
        show_progress="hidden",
    )


def wire_edits(studio: Studio, page: Page) -> None:
    res = page.results

    def update(tasks: list[str], session: Session, **fields):
        """New detections of the last analysed clip for edited templates, labels, thresholds or maxima (no
        decoding or encoding): the timeline, the table, the downloads, the status and a message. An edit
        that cannot be applied (e.g. a repeated label) leaves the last result, marks the timeline out of
        date and says why in the message."""
        if session.clip is None:  # nothing analysed yet: nothing to update
            return {c: gr.skip() for c in res.outputs}
        try:
            return res.show(studio.update(session, tasks, settings_from_fields(fields)))
        except Exception as exc:  # noqa: BLE001 - e.g. a duplicate label while typing: keep the last result
            err = describe_error(exc, "update the timeline")
            stale = studio.stale(session, err)
            return {res.message: err.markdown(), **({res.timeline: stale} if stale is not None else {})}

    fields = page.fields
    gr.on(
        [page.inputs.tasks.change] + [c.change for c in fields.values()],
        update,
        inputs_kwargs={"tasks": page.inputs.tasks, "session": page.session, **fields},
        outputs=res.outputs,
        api_name="update",
        trigger_mode="always_last",
        show_progress="hidden",
    )

    for panel in page.tasks:
        wire_preset(studio, page, panel)


def wire_preset(studio: Studio, page: Page, panel: TaskPanel) -> None:
    res = page.results

    def preset(preset: str, model: str, session: Session) -> dict:
        """The labels of a vocabulary preset for this task ("model": the model's training labels)."""
        try:
            loaded = studio.registry.peek(session.model_text or model)
            cfg = loaded.task(panel.task) if loaded is not None and panel.task in loaded.tasks else None
            return {panel.labels: labels_text(preset_labels(preset, cfg)), res.message: ""}
        except StudioError as err:
            return {res.message: err.markdown()}

    panel.preset.input(
        preset,
        inputs_kwargs={"preset": panel.preset, "model": page.model.choice, "session": page.session},
        outputs=[panel.labels, res.message],
        api_name=f"preset_{panel.task.lower()}",
        show_progress="hidden",
    )


def wire_model(studio: Studio, page: Page) -> None:
    res, box = page.results, page.model
    tab_outputs = [c for panel in page.tasks for c in panel.on_model]

    progress_bar = gr.Progress(track_tqdm=True)  # (a Hub download reports through tqdm)

    def load_model(model: str, session: Session, progress=progress_bar):
        """Load a model folder or Hub repo id (owner/name[@revision]) and show what it knows; the task panels
        switch to its tasks, templates and training labels, and the last result is cleared."""
        try:
            loaded = studio.load_model(model, lambda frac, message: progress(frac, desc=message))
        except StudioError as err:
            return {box.status: err.markdown(), res.message: err.markdown()}
        if session.model_text and ModelRef.parse(session.model_text) == loaded.ref:  # shown already: keep edits
            return {box.status: model_panel(loaded, PAGE_TASKS), res.message: ""}
        session.model_text = model
        session.forget()
        served = shown_tasks(loaded)
        updates = {
            box.status: model_panel(loaded, PAGE_TASKS),
            box.card: _card(loaded),
            res.notice: knowledge_notice(loaded),
            page.inputs.tasks: gr.CheckboxGroup(choices=served, value=served),
            **res.clear("model changed: press Detect", "Model loaded: press **Detect** to analyse the clip with it."),
            **res.disable_downloads(),
        }
        for panel in page.tasks:
            updates.update(panel.for_model(loaded))
        return updates

    box.load.click(
        load_model,
        inputs_kwargs={"model": box.choice, "session": page.session},
        outputs=[box.status, box.card, res.notice, page.inputs.tasks, *tab_outputs, *res.outputs],
        api_name="load_model",
        concurrency_id="analysis",
        concurrency_limit=studio.settings.concurrency,
        show_progress_on=[box.status],
    )


# ---- the page -----------------------------------------------------------------------------------
def build_app(studio: Studio) -> gr.Blocks:
    """The page, its events and its queue (`launch_options` gives the matching ``launch`` arguments)."""
    settings = studio.settings
    try:
        model: LoadedModel | None = studio.load_model(settings.model)
        status, notice = model_panel(model, PAGE_TASKS), knowledge_notice(model)
        log.info("model %s loaded in %.1f s", model.ref.label, model.load_seconds)
    except StudioError as err:
        model, status, notice = None, err.markdown(), err.markdown()
        log.warning("%s (the page starts without a model)", err)

    ttl = settings.cache_ttl_s
    with gr.Blocks(title="UniAV Studio", delete_cache=(ttl, ttl)) as demo:
        session = gr.State(
            Session(model_text=settings.model if model is not None else None), delete_callback=close_session
        )
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                inputs = input_panel(studio, shown_tasks(model))
                box = model_box(studio, model, status)
            with gr.Column(scale=2, min_width=420), gr.Tabs():
                tasks = tuple(task_panel(task, model) for task in PAGE_TASKS)
        results = results_panel(model, notice)
        page = Page(session, inputs, box, tasks, results)
        wire_file(studio, page)
        wire_run(studio, page)
        wire_edits(studio, page)
        wire_model(studio, page)

    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    return demo


def launch_options(settings: StudioSettings) -> dict:
    """Arguments of ``demo.launch`` for `settings` (gradio 6: theme and css go here, not in Blocks)."""
    return {
        "server_name": settings.server_name,
        "server_port": settings.server_port,
        "max_file_size": settings.max_upload_bytes,
        "allowed_paths": [str(settings.examples_dir)] if settings.examples_dir.is_dir() else [],
        "theme": gr.themes.Default(primary_hue="indigo"),
        "css": CSS,
        "show_error": False,
        # Gradio's run history would copy every edit's outputs (figure and all) into the browser's storage
        "run_history": False,
    }


def serve(studio: Studio, *, port: int | None = None, block: bool = True, quiet: bool = False) -> gr.Blocks:
    """Build and launch the app for `studio` (on `port` instead of the settings' one if given); with
    ``block=False`` it returns at once, serving from a background thread (``demo.close()`` stops it)."""
    demo = build_app(studio)
    options = launch_options(studio.settings)
    if port is not None:
        options["server_port"] = port
    demo.launch(prevent_thread_lock=not block, quiet=quiet, **options)
    return demo


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = StudioSettings.from_env()
    except SettingsError as err:
        print(f"uniav studio: {err}", file=sys.stderr)
        return 2
    serve(Studio(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
