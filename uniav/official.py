"""Import of the authors' official UniAV checkpoints and configurations.

The official code keys the three tasks by position (TASK1/2/3 = TAL/AVEL/SED) in the regression
head and trains with DistributedDataParallel (``module.`` prefix); everything else already uses
the names of our modules. Widths are inferred from the tensors; what the tensors cannot tell
(heads, sequence lengths, vocabularies, decoding) comes from the ``paper`` preset or a given
configuration.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uniav.config import (
    AudioKind,
    DecodeConfig,
    EncoderSpec,
    ModelConfig,
    NmsMethod,
    PartSpec,
    TaskConfig,
    TextKind,
    VisualKind,
)

OFFICIAL_TASK_ORDER = ("TAL", "AVEL", "SED")
_OFFSET_RE = re.compile(r"^reg_head\.offset_head\.TASK(\d+)\.(.*)$")


def read_official_checkpoint(path: str | Path, prefer_ema: bool = True) -> dict[str, torch.Tensor]:
    """The state dict of an official ``.pth.tar`` (``state_dict_ema``, else ``state_dict``), loaded with
    ``weights_only=True`` and without the ``module.`` prefix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files...
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    if isinstance(ckpt, Mapping) and ("state_dict_ema" in ckpt or "state_dict" in ckpt):
        key = "state_dict_ema" if prefer_ema and ckpt.get("state_dict_ema") else "state_dict"
        sd = ckpt[key]
    elif isinstance(ckpt, Mapping) and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        sd = ckpt
    else:
        raise ValueError(f"{path}: no state_dict_ema / state_dict in this checkpoint")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def map_official_keys(
    state_dict: Mapping[str, torch.Tensor], task_names: tuple[str, ...] = OFFICIAL_TASK_ORDER
) -> dict[str, torch.Tensor]:
    """Rename ``reg_head.offset_head.TASK{i}`` to the task's name; other keys are already ours."""
    out = {}
    for k, v in state_dict.items():
        m = _OFFSET_RE.match(k)
        if m:
            i = int(m.group(1)) - 1
            if not 0 <= i < len(task_names):
                raise ValueError(f"checkpoint key {k} refers to task {i + 1}, but only {len(task_names)} tasks exist")
            k = f"reg_head.offset_head.{task_names[i]}.{m.group(2)}"
        out[k] = v
    return out


def _count(keys: list[str], pattern: str) -> int:
    idx = {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}
    return max(idx) + 1 if idx else 0


def infer_config(state_dict: Mapping[str, torch.Tensor], base: ModelConfig) -> ModelConfig:
    """`base` with the widths, depths and class counts that the tensors determine."""
    keys = list(state_dict)

    def shape(k: str) -> tuple[int, ...]:
        if k not in state_dict:
            raise ValueError(f"checkpoint lacks {k}; is this a UniAV checkpoint?")
        return tuple(state_dict[k].shape)

    embd_dim, visual_dim, embd_ks = shape("backbone.embd_V.0.conv.weight")
    head_dim, text_dim = shape("cls_head.clip_proj.weight")
    arch = (
        _count(keys, r"backbone\.embd_V\.(\d+)\."),
        _count(keys, r"backbone\.self_att_V\.(\d+)\.") + 1,
        _count(keys, r"backbone\.cross_att_Va\.(\d+)\."),
    )
    has_droppath = any(".drop_path_attn.scale" in k for k in keys)
    tasks = []
    for t in base.tasks:
        w = state_dict.get(f"reg_head.offset_head.{t.name}.conv.weight")
        if w is None:
            raise ValueError(f"checkpoint has no regression head for task {t.name}")
        if t.class_aware and w.shape[0] != 2 * t.num_classes:
            raise ValueError(
                f"task {t.name}: the checkpoint regresses {w.shape[0] // 2} classes but the vocabulary has "
                f"{t.num_classes}; give the matching label list"
            )
        if not t.class_aware and w.shape[0] != 2:
            raise ValueError(f"task {t.name}: class-agnostic in the config but the checkpoint has {w.shape[0]} outputs")
        tasks.append(t)
    n_reg_levels = _count(keys, r"reg_head\.scale\.(\d+)\.")
    if n_reg_levels != arch[2] + 1:
        raise ValueError(f"{n_reg_levels} regression scales for {arch[2] + 1} pyramid levels")
    ranges = base.regression_range
    if len(ranges) != arch[2] + 1:
        raise ValueError(
            f"the base configuration has {len(ranges)} regression ranges, the checkpoint {arch[2] + 1} levels"
        )
    audio_dim = shape("backbone.embd_A.0.conv.weight")[1]
    encoder = _with_feature_widths(base.encoder, visual_dim, audio_dim, text_dim)
    return base.replace(
        encoder=encoder,
        tasks=tuple(tasks),
        visual_dim=visual_dim,
        audio_dim=audio_dim,
        text_dim=text_dim,
        embd_dim=embd_dim,
        head_dim=head_dim,
        backbone_arch=arch,
        embd_kernel_size=embd_ks,
        head_kernel_size=shape("cls_head.head.0.conv.weight")[2],
        head_num_layers=_count(keys, r"cls_head\.head\.(\d+)\.") + 1,
        embd_with_ln="backbone.embd_norm_V.0.weight" in state_dict,
        head_with_ln="cls_head.norm.0.weight" in state_dict,
        droppath=(base.droppath or 0.1) if has_droppath else 0.0,
    )


def _with_feature_widths(encoder: EncoderSpec, visual_dim: int, audio_dim: int, text_dim: int) -> EncoderSpec:
    """Precomputed parts (``features``) record the widths of their files; other parts are left as they are."""

    def widened(part: PartSpec, key: str, dim: int, kind: VisualKind | AudioKind | TextKind) -> PartSpec:
        return PartSpec(part.kind, {**part.options, key: dim}) if part.kind is kind else part

    return EncoderSpec(
        widened(encoder.visual, "visual_dim", visual_dim, VisualKind.FEATURES),
        widened(encoder.audio, "audio_dim", audio_dim, AudioKind.FEATURES),
        widened(encoder.text, "text_dim", text_dim, TextKind.FEATURES),
    )


def config_from_official_json(d: Mapping[str, Any], labels: Mapping[str, tuple[str, ...]] | None = None) -> ModelConfig:
    """A ModelConfig from the official hyper-parameters (the layout of the fixtures' ``config.json``)."""
    tasks = []
    for name, t in d["tasks"].items():
        n = int(t["num_classes"])
        labs = tuple(labels[name]) if labels and name in labels else tuple(f"class {i}" for i in range(n))
        if len(labs) != n:
            raise ValueError(f"task {name}: {len(labs)} labels given for {n} classes")
        tasks.append(
            TaskConfig(
                name=name,
                labels=labs,
                class_aware=bool(t["class_aware"]),
                max_seq_len=int(t["max_seq_len"]),
                label_smoothing=float(t.get("label_smoothing", 0.0)),
                nms_sigma=float(t.get("nms_sigma", 0.5)),
                feat_stride=int(t.get("feat_stride", 4)),
                num_frames=int(t.get("num_frames", 16)),
                fps=float(t.get("fps", 16.0)),
                init_loss_norm=float(t.get("init_loss_norm", 400)),
                loss_weight=float(t.get("loss_weight", 1.0)),
            )
        )
    test = dict(d.get("test_cfg", {}))
    decode = DecodeConfig.from_dict(test) if test else DecodeConfig()
    if test.get("nms_method"):
        decode = dataclasses.replace(decode, nms_method=NmsMethod(test["nms_method"]))
    return ModelConfig(
        tasks=tuple(tasks),
        visual_dim=int(d["input_dim_visual"]),
        audio_dim=int(d["input_dim_audio"]),
        text_dim=int(d.get("text_dim", 1536)),
        embd_dim=int(d["embd_dim"]),
        head_dim=int(d["head_dim"]),
        n_head=int(d["n_head"]),
        backbone_arch=tuple(d["backbone_arch"]),
        scale_factor=int(d["scale_factor"]),
        regression_range=tuple(tuple(float(x) for x in r) for r in d["regression_range"]),
        embd_kernel_size=int(d.get("embd_kernel_size", 3)),
        head_kernel_size=int(d.get("head_kernel_size", 3)),
        head_num_layers=int(d.get("head_num_layers", 3)),
        embd_with_ln=bool(d.get("embd_with_ln", True)),
        head_with_ln=bool(d.get("head_with_ln", True)),
        use_abs_pe=bool(d.get("use_abs_pe", True)),
        droppath=float(d.get("droppath", 0.0)),
        decode=decode,
        encoder=EncoderSpec.uniform("features", {"name": "one-peace"}),
    )


def load_prompt_embeddings(path: str | Path) -> np.ndarray:
    """A (C, D) prompt-embedding ``.npy`` (the authors' ``*_prompt.npy``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompt embeddings not found: {path}")
    arr = np.load(path)
    if arr.ndim != 2:
        raise ValueError(f"{path}: prompt embeddings must be (classes, dim), got shape {arr.shape}")
    return arr.astype(np.float32)


def base_config_from_file(path: str | Path) -> ModelConfig:
    """A base configuration from a JSON file: a UniAV ``config.json`` or the official hyper-parameter layout."""
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config not found: {path}")
    d = json.loads(path.read_text())
    return config_from_official_json(d) if "input_dim_visual" in d else ModelConfig.from_dict(d)


def convert_official(
    checkpoint: str | Path,
    out_dir: str | Path,
    base: ModelConfig | None = None,
    prompt_files: Mapping[str, str | Path] | None = None,
    labels: Mapping[str, tuple[str, ...]] | None = None,
    prefer_ema: bool = True,
):
    """Convert an authors' checkpoint into a UniAV model folder; returns the loaded model.

    Every key must map (unknown or missing keys are refused with the list); widths come from the
    tensors, the rest from `base` (default: the ``paper`` preset). `prompt_files` attaches the
    authors' ``*_prompt.npy`` class-prompt embeddings per task; `labels` replaces vocabularies.
    """
    from uniav.hub import load_weights
    from uniav.model.uniav import UniAV

    base = base or ModelConfig.preset("paper")
    for task, labs in (labels or {}).items():
        base = base.with_task(dataclasses.replace(base.task(task), labels=tuple(labs)))
    raw = read_official_checkpoint(checkpoint, prefer_ema=prefer_ema)
    state = map_official_keys(raw, base.task_names)
    config = infer_config(state, base)
    model = UniAV(config)
    load_weights(model, state, source=str(checkpoint))
    if prompt_files:
        model.attach_prompt_embeddings(
            {config.task(t).name: torch.from_numpy(load_prompt_embeddings(p)) for t, p in prompt_files.items()}
        )
    model.save_pretrained(out_dir)
    return model.eval()
