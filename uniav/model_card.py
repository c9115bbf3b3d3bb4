"""Model cards (README.md with Hub front matter) for UniAV model folders."""

from __future__ import annotations

from uniav.config import ModelConfig


def front_matter(tags: tuple[str, ...] = ()) -> str:
    base = ("uniav", "video", "audio", "temporal-action-localization", "sound-event-detection",
            "audio-visual-event-localization")
    lines = ["---", "library_name: uniav", "license: mit", "tags:"]
    lines += [f"- {t}" for t in dict.fromkeys(base + tags)]
    lines += ["---", ""]
    return "\n".join(lines)


def task_table(config: ModelConfig) -> str:
    rows = ["| task | classes | class-aware regression | max_seq_len | prompt template |",
            "|---|---|---|---|---|"]
    for t in config.tasks:
        rows.append(f"| {t.name} | {t.num_classes} | {'yes' if t.class_aware else 'no'} | {t.max_seq_len} | "
                    f"`{t.prompt_template}` |")
    return "\n".join(rows)


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
        f"encoder `{config.encoder.kind}` {config.encoder.options or ''}\n\n"
        + task_table(config) + "\n"
    )
