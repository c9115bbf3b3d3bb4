"""UniAV Studio: the Gradio app. Layout, events and per-session state only; the work is in `uniav.studio`.

Run ``python app.py`` (settings from environment variables: see `uniav.studio.settings`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import gradio as gr

from uniav.defaults import bundled_model_dir
from uniav.studio import (
    DEFAULT_THRESHOLD,
    DEFAULT_TOP_K,
    MAX_TOP_K,
    MEDIA_EXTENSIONS,
    PAPER_PRESET,
    PRESET_MODEL,
    LoadedModel,
    ModelRef,
    Session,
    SettingsError,
    Studio,
    StudioError,
    StudioSettings,
    TaskSettings,
    close_session,
    default_template,
    describe_error,
    detection_table,
    empty_timeline,
    labels_text,
    media_kind,
    preset_choices,
    preset_labels,
    task_title,
)
from uniav.vocabularies import load_vocabulary

log = logging.getLogger("uniav.studio")
TASKS = ("TAL", "AVEL", "SED")  # the panels of the page; a model serves any subset of them
FIELDS_PER_TASK = 4  # template, labels, threshold, max detections
INTRO = """# UniAV Studio
One model localizes **visual actions** (TAL), **audio-visual events** (AVEL) and **sound events** (SED) in a clip.
Upload a video or an audio file and press **Detect**. Then edit a task's prompt template or labels, one per line:
a new label needs no retraining, and the timeline follows your edits without analysing the clip again."""
CSS = """
#status { min-height: 2.5em; }
#timeline { min-height: 180px; }
"""


def settings_by_task(values: Sequence) -> dict[str, TaskSettings]:
    """The per-task settings from the panels' values (template, labels, threshold, max, for each task)."""
    return {
        task: TaskSettings.from_ui(*values[i * FIELDS_PER_TASK : (i + 1) * FIELDS_PER_TASK])
        for i, task in enumerate(TASKS)
    }


def shown_tasks(model: LoadedModel) -> list[str]:
    """The model's tasks that the page has panels for."""
    return [t for t in model.tasks if t in TASKS]


def model_markdown(model: LoadedModel) -> str:
    hidden = [t for t in model.tasks if t not in TASKS]
    note = f"  \n⚠️ the studio shows {', '.join(TASKS)}; not shown: {', '.join(hidden)}" if hidden else ""
    return model.summary() + note


def _players(path: str | None, video: bool) -> tuple:
    if path is None:
        return gr.Video(value=None, visible=True), gr.Audio(value=None, visible=False)
    if video:
        return gr.Video(value=path, visible=True), gr.Audio(value=None, visible=False)
    return gr.Video(value=None, visible=False), gr.Audio(value=path, visible=True)


def _downloads(view=None) -> tuple:
    """The two download buttons' files (plain paths, so API clients receive the files themselves)."""
    return (None, None) if view is None else (str(view.json_path), str(view.csv_path))


def build_app(studio: Studio) -> gr.Blocks:
    """The page, its events and its queue (`launch_options` gives the matching ``launch`` arguments)."""
    settings = studio.settings
    try:
        model: LoadedModel | None = studio.load_model(settings.model)
        model_status = model_markdown(model)
        log.info("model %s loaded in %.1f s", model.ref.label, model.load_seconds)
    except StudioError as err:
        model, model_status = None, err.markdown()
        log.warning("%s (the page starts without a model)", err)
    served = shown_tasks(model) if model is not None else list(TASKS)

    with gr.Blocks(title="UniAV Studio", delete_cache=(3600, 3600)) as demo:
        session = gr.State(
            Session(model_text=settings.model if model is not None else None), delete_callback=close_session
        )
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                file_in = gr.File(
                    label=f"Video or audio file (up to {settings.max_upload_text})",
                    file_types=list(MEDIA_EXTENSIONS),
                    type="filepath",
                    elem_id="upload",
                )
                if studio.examples:
                    gr.Examples(
                        examples=[[str(p)] for p in studio.examples],
                        inputs=[file_in],
                        example_labels=[p.name for p in studio.examples],
                        label="Example clips",
                    )
                else:
                    gr.Markdown(f"*No example clips found in `{settings.examples_dir.name}/`.*")
                tasks_in = gr.CheckboxGroup(
                    choices=list(served), value=list(served), label="Tasks to run", elem_id="tasks"
                )
                run_btn = gr.Button("Detect", variant="primary", elem_id="run")
                with gr.Accordion("Model", open=model is None):
                    choices = [(f"bundled: {bundled_model_dir().name}", str(bundled_model_dir()))]
                    if settings.model != str(bundled_model_dir()):
                        choices.append((ModelRef.parse(settings.model).label, settings.model))
                    model_in = gr.Dropdown(
                        choices=choices,
                        value=settings.model,
                        allow_custom_value=True,
                        label="Model folder or Hub repo id (owner/name[@revision])",
                        elem_id="model",
                    )
                    load_btn = gr.Button("Load model", size="sm", elem_id="load-model")
                    model_md = gr.Markdown(model_status, elem_id="model-status")
            with gr.Column(scale=2, min_width=420):
                tabs, templates, labels, presets, task_values = [], [], [], [], []
                with gr.Tabs():
                    for task in TASKS:
                        cfg = model.task(task) if model is not None and task in served else None
                        vocab = cfg.labels if cfg is not None else load_vocabulary(PAPER_PRESET[task])
                        with gr.Tab(task_title(task), id=task, visible=task in served, elem_id=f"tab-{task}") as tab:
                            with gr.Row():
                                tpl = gr.Textbox(
                                    default_template(cfg, task),
                                    label="Prompt template",
                                    scale=3,
                                    info="{label} is replaced by each label",
                                    elem_id=f"template-{task}",
                                )
                                preset = gr.Dropdown(
                                    preset_choices(),
                                    value=PRESET_MODEL if cfg else PAPER_PRESET[task],
                                    label="Vocabulary preset",
                                    scale=2,
                                    elem_id=f"preset-{task}",
                                )
                            lab = gr.Textbox(
                                labels_text(vocab),
                                label="Labels (one per line)",
                                lines=8,
                                max_lines=14,
                                elem_id=f"labels-{task}",
                            )
                            with gr.Row():
                                thr = gr.Slider(
                                    0.0,
                                    1.0,
                                    value=DEFAULT_THRESHOLD,
                                    step=0.01,
                                    label="Score threshold",
                                    elem_id=f"threshold-{task}",
                                )
                                top = gr.Slider(
                                    1,
                                    MAX_TOP_K,
                                    value=DEFAULT_TOP_K,
                                    step=1,
                                    label="Max detections",
                                    elem_id=f"topk-{task}",
                                )
                        tabs.append(tab)
                        templates.append(tpl)
                        labels.append(lab)
                        presets.append(preset)
                        task_values += [tpl, lab, thr, top]
        status = gr.Markdown(elem_id="status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                video = gr.Video(label="Player", interactive=False, elem_id="player-video")
                audio = gr.Audio(
                    label="Player", interactive=False, visible=False, type="filepath", elem_id="player-audio"
                )
            with gr.Column(scale=3, min_width=420):
                plot = gr.Plot(label="Timeline", elem_id="timeline")
        table = gr.Dataframe(
            detection_table(None), label="Detections, by start time", interactive=False, elem_id="detections"
        )
        with gr.Row():
            json_btn = gr.DownloadButton("Download JSON", elem_id="download-json")
            csv_btn = gr.DownloadButton("Download CSV", elem_id="download-csv")

        results = [plot, table, json_btn, csv_btn, status]

        # ---- events -----------------------------------------------------------------------------
        def on_file(path: str | None, state: Session):
            state.clip = None  # results belong to the previous clip
            message = "Press **Detect** to analyse this file." if path else ""
            return (
                *_players(path, media_kind(path) == "video" if path else True),
                None,
                detection_table(None),
                *_downloads(),
                message,
            )

        file_in.change(
            on_file, [file_in, session], [video, audio, *results], api_visibility="private", show_progress="hidden"
        )

        def on_run(progress=gr.Progress(), *values):  # noqa: B008 - Gradio injects progress by default value
            path, model_text, tasks, *rest = values
            state: Session = rest[-1]
            try:
                view = studio.analyze(
                    state,
                    path,
                    model_text,
                    tasks,
                    settings_by_task(rest[:-1]),
                    lambda frac, message: progress(frac, desc=message),
                )
            except Exception as exc:  # noqa: BLE001 - a message in the page, never a traceback
                state.clip = None
                err = describe_error(exc, "detect events")
                gr.Warning(str(err))
                return (
                    *_players(None, True),
                    empty_timeline(err.title),
                    detection_table(None),
                    *_downloads(),
                    err.markdown(),
                )
            clip = state.clip
            return (*_players(clip.media_path, clip.has_video), view.figure, view.table, *_downloads(view), view.status)

        run_btn.click(
            on_run,
            [file_in, model_in, tasks_in, *task_values, session],
            [video, audio, *results],
            api_name="run",
            concurrency_id="analysis",
            concurrency_limit=settings.concurrency,
        )

        def on_update(tasks, *values):
            state: Session = values[-1]
            if state.clip is None:
                return tuple(gr.skip() for _ in results)
            try:
                view = studio.update(state, tasks, settings_by_task(values[:-1]))
            except Exception as exc:  # noqa: BLE001 - e.g. a duplicate label while typing: keep the last timeline
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), describe_error(exc, "update the timeline").markdown()
            return view.figure, view.table, *_downloads(view), view.status

        edits = [tasks_in.change] + [c.change for c in task_values]
        gr.on(
            edits,
            on_update,
            [tasks_in, *task_values, session],
            results,
            api_name="update",
            trigger_mode="always_last",
            show_progress="minimal",
        )

        def preset_handler(task: str):
            def on_preset(choice: str, state: Session, model_text: str):
                try:
                    loaded = studio.registry.peek(state.model_text or model_text)
                    cfg = loaded.task(task) if loaded is not None and task in loaded.tasks else None
                    return labels_text(preset_labels(choice, cfg))
                except StudioError as err:
                    gr.Warning(str(err))
                    return gr.skip()

            return on_preset

        for task, preset, lab in zip(TASKS, presets, labels, strict=True):
            preset.input(preset_handler(task), [preset, session, model_in], [lab], api_name=f"preset_{task.lower()}")

        def on_load(model_text: str, state: Session, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
            try:
                loaded = studio.load_model(model_text, lambda frac, message: progress(frac, desc=message))
            except StudioError as err:
                gr.Warning(str(err))
                return err.markdown(), *(gr.skip() for _ in range(1 + 4 * len(TASKS) + len(results)))
            if state.model_text and ModelRef.parse(state.model_text) == loaded.ref:  # shown already: keep edits
                return model_markdown(loaded), *(gr.skip() for _ in range(1 + 4 * len(TASKS) + len(results)))
            state.model_text, state.clip = model_text, None
            shown = shown_tasks(loaded)
            updates = [gr.CheckboxGroup(choices=shown, value=shown)]
            updates += [gr.Tab(visible=t in shown) for t in TASKS]
            for t in TASKS:
                cfg = loaded.task(t) if t in shown else None
                updates += [
                    default_template(cfg, t) if cfg else gr.skip(),
                    labels_text(cfg.labels) if cfg else gr.skip(),
                    PRESET_MODEL if cfg else gr.skip(),
                ]
            clear = [
                empty_timeline("model changed: press Detect"),
                detection_table(None),
                *_downloads(),
                "Model loaded: press **Detect** to analyse the clip with it.",
            ]
            return model_markdown(loaded), *updates, *clear

        per_task = [c for trio in zip(templates, labels, presets, strict=True) for c in trio]
        load_btn.click(
            on_load,
            [model_in, session],
            [model_md, tasks_in, *tabs, *per_task, *results],
            api_name="load_model",
            concurrency_id="analysis",
            concurrency_limit=settings.concurrency,
        )

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
