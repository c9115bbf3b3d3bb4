"""Small builders shared by the tests."""

from __future__ import annotations

from uniav.config import ModelConfig, TaskConfig


def tiny_config(**overrides) -> ModelConfig:
    tasks = (
        TaskConfig("TAL", ("run", "jump", "swim"), class_aware=False, max_seq_len=64, feat_stride=8,
                   prompt_template="A visual event of {label}."),
        TaskConfig("SED", ("dog", "horn"), class_aware=True, max_seq_len=32, feat_stride=4),
    )
    base = dict(tasks=tasks, visual_dim=12, audio_dim=10, text_dim=16, embd_dim=16, head_dim=16, n_head=2,
                droppath=0.0)
    base.update(overrides)
    return ModelConfig(**base)
