"""Model cards (README.md with Hub front matter) for UniAV model folders."""

from __future__ import annotations

from uniav.config import EncoderSpec, ModelConfig


def front_matter(tags: tuple[str, ...] = ()) -> str:
    base = (
        "uniav",
        "video",
        "audio",
        "temporal-action-localization",
        "sound-event-detection",
        "audio-visual-event-localization",
    )
    lines = ["---", "library_name: uniav", "license: mit", "tags:"]
    lines += [f"- {t}" for t in dict.fromkeys(base + tags)]
    lines += ["---", ""]
    return "\n".join(lines)


def task_table(config: ModelConfig) -> str:
    rows = ["| task | classes | class-aware regression | max_seq_len | prompt template |", "|---|---|---|---|---|"]
    for t in config.tasks:
        rows.append(
            f"| {t.name} | {t.num_classes} | {'yes' if t.class_aware else 'no'} | {t.max_seq_len} | "
            f"`{t.prompt_template}` |"
        )
    return "\n".join(rows)


def encoder_text(spec: EncoderSpec) -> str:
    """The encoder as a card shows it: ``visual signal · audio yamnet · text minilm`` and the options that
    parts were given (``visual: {...}``)."""
    options = "; ".join(f"{slot}: {part.options}" for slot, part in spec.parts.items() if part.options)
    return f"`{spec.label}`" + (f" ({options})" if options else "")


def default_model_card(config: ModelConfig, num_parameters: int, title: str = "UniAV model") -> str:
    """A minimal card: architecture, tasks and encoder (trained models get a fuller card)."""
    return (
        front_matter()
        + f"# {title}\n\n"
        + "A [UniAV](https://arxiv.org/abs/2404.03179) model: one network that localizes visual actions (TAL), "
        "audio-visual events (AVEL) and sound events (SED). Load it with "
        "`uniav.UniAV.from_pretrained(...)` or run `uniav predict VIDEO --model ...`.\n\n"
        + f"- parameters: {num_parameters:,}\n"
        + f"- width D={config.embd_dim}, heads={config.n_head}, backbone_arch={tuple(config.backbone_arch)}\n"
        + f"- input features: visual {config.visual_dim}-d, audio {config.audio_dim}-d, text {config.text_dim}-d, "
        f"encoder {encoder_text(config.encoder)}\n\n" + task_table(config) + "\n"
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f}"


def metrics_table(reports: dict[str, object], tasks: tuple[str, ...]) -> str:
    """Rows: one per (named) evaluation report; columns: per task average mAP and mAP@0.5."""
    head = "| model | " + " | ".join(f"{t} avg mAP | {t} mAP@0.5" for t in tasks) + " |"
    rows = [head, "|---|" + "---|---|" * len(tasks)]
    for name, report in reports.items():
        cells = []
        for t in tasks:
            tr = report.tasks.get(t) if report is not None else None
            if tr is None:
                cells += ["-", "-"]
                continue
            thr = [round(float(x), 2) for x in tr.result.tiou_thresholds]
            at05 = tr.result.mAP[thr.index(0.5)] if 0.5 in thr else None
            cells += [_pct(tr.result.average_mAP), _pct(at05)]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def trained_model_card(
    config: ModelConfig,
    num_parameters: int,
    *,
    title: str,
    summary: str,
    data: str,
    command: str,
    reports: dict[str, object],
    notes: str = "",
) -> str:
    """The card of a trained model: what it is, its data and encoder, how to reproduce it, and test mAP
    (`reports`: name -> EvaluationReport, e.g. the multi-task model and single-task baselines)."""
    return (
        front_matter()
        + f"# {title}\n\n{summary}\n\n"
        + "## Architecture\n\n"
        + f"- parameters: {num_parameters:,}; width D={config.embd_dim}, heads={config.n_head}, "
        f"backbone_arch={tuple(config.backbone_arch)}, drop-path {config.droppath}\n"
        + f"- encoder {encoder_text(config.encoder)}: visual {config.visual_dim}-d, audio {config.audio_dim}-d, "
        f"text {config.text_dim}-d\n\n"
        + task_table(config)
        + "\n\n"
        + f"## Data\n\n{data}\n\n"
        + f"## Training\n\n```bash\n{command}\n```\n\n"
        + "## Test results (UniAV-Synth `testing` subset, ActivityNet protocol, %)\n\n"
        + metrics_table(reports, config.task_names)
        + "\n"
        + (f"\n{notes}\n" if notes else "")
    )
