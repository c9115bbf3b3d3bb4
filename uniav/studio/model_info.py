"""What the page says about the loaded model, before and beside its results.

A user who types "fire" and sees "swinging pendulum 0.70" must be able to tell that the model only knows
synthetic pendulums. Everything here is read from the model's own record (`ModelKnowledge`: per task its
training classes and data, and what its encoders can recognise), so a model trained on real recordings is
described as such without any change here:

- `model_panel`: the **Model** box (name, size, per task what it was trained on and its classes, the encoders,
  where real-world models are);
- `knowledge_notice`: the short notice above the results;
- `task_note`: the line under each task's labels;
- `lane_caveats`: the remark in a timeline lane's title for a task trained on synthetic data only (or on
  data the model does not record).
"""

from __future__ import annotations

from collections.abc import Sequence

from uniav.knowledge import ModelKnowledge, TaskKnowledge
from uniav.studio.errors import md_escape
from uniav.studio.models import LoadedModel

NOTICE_LABELS = 8  # classes named per task in the notice (the Model box lists them all)
REAL_WORLD_MODELS = (
    "**Models for real videos**: the authors' UniAV checkpoint converted with `uniav convert-official` "
    "(ONE-PEACE features), or a model trained on real recordings with the `clip-clap` (or `effnet` + `yamnet`) "
    "encoders; see *Real-world weights* in the project's README "
    "([paper](https://arxiv.org/abs/2404.03179)). Type its folder or Hub repo id in the **Model** box and press "
    "**Load model**."
)
CAVEATS = {False: "⚠ synthetic training data only", None: "ℹ️ training data not recorded"}
ICONS = {True: "✅", False: "⚠️", None: "ℹ️"}


def _classes(task: TaskKnowledge, limit: int) -> str:
    shown = ", ".join(md_escape(x) for x in task.labels[:limit])
    more = len(task.labels) - limit
    return shown + (f" … ({more} more)" if more > 0 else "")


def model_panel(model: LoadedModel, page_tasks: Sequence[str]) -> str:
    """The Model box's Markdown: the summary line, tasks the page cannot show, what the model knows per task
    and through its encoders, and where to get models for real videos."""
    hidden = [t for t in model.tasks if t not in page_tasks]
    note = f"  \n⚠️ the studio shows {', '.join(page_tasks)}; not shown: {', '.join(hidden)}" if hidden else ""
    return "\n\n".join([model.summary() + note, model.knowledge.markdown(), REAL_WORLD_MODELS])


def knowledge_notice(model: LoadedModel) -> str:
    """The notice above the results: which tasks were trained on synthetic data only (their scores on real
    videos mean nothing), the classes each task knows, and where to look for real-world models."""
    knowledge: ModelKnowledge = model.knowledge
    name = md_escape(model.ref.label)
    synthetic = [t for t in knowledge.tasks if t.real is False]
    unknown = [t for t in knowledge.tasks if t.real is None]
    lines = []
    if synthetic:
        tasks = ", ".join(t.task for t in synthetic)
        lines.append(
            f"⚠️ **{name} was trained on synthetic clips only for {tasks}**: its scores on real videos are not "
            "meaningful; a label it was not trained on is matched through the text encoder only."
        )
    if unknown:
        lines.append(f"ℹ️ {name} does not record what {', '.join(t.task for t in unknown)} was trained on.")
    if not synthetic and not unknown:
        lines.append(f"✅ {name} was trained on real-world recordings.")
    lines += [f"**{t.task}** knows {len(t.labels)} classes: {_classes(t, NOTICE_LABELS)}" for t in knowledge.tasks]
    if synthetic or unknown:
        lines.append("Models for real videos: see the **Model** box.")
    return "  \n".join(lines)


def task_note(model: LoadedModel | None, task: str) -> str:
    """The line under a task's labels: what the model was trained on for it and how new labels are matched."""
    if model is None or task not in model.tasks:
        return "No model serves this task: load one in the **Model** box."
    knowledge = model.knowledge
    info = next(t for t in knowledge.tasks if t.task == task)
    text_encoder = knowledge.encoders.get("text", "")
    return (
        f"{ICONS[info.real]} The model knows {len(info.labels)} {task} classes (preset *The model's "
        f"training labels*), {md_escape(info.trained_on)}. Other labels are compared through its text encoder: "
        f"{md_escape(text_encoder)}."
    )


def lane_caveats(model: LoadedModel) -> dict[str, str]:
    """Per task a remark for its timeline lane when its training was synthetic or is not recorded."""
    return {t.task: CAVEATS[t.real] for t in model.knowledge.tasks if t.real in CAVEATS}
