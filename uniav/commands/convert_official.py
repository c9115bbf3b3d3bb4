"""`uniav convert-official`: an authors' .pth.tar checkpoint -> a UniAV model folder."""

from __future__ import annotations

import argparse

NAME = "convert-official"
HELP = "convert an official UniAV checkpoint (.pth.tar) into a model folder (config.json + model.safetensors)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="official checkpoint (.pth.tar), e.g. the authors' released model")
    p.add_argument("out_dir", help="folder to write the converted model to")
    p.add_argument(
        "--config",
        help="base configuration JSON (a UniAV config.json or the official hyper-parameters); "
        "default: the 'paper' preset",
    )
    p.add_argument(
        "--prompts",
        action="append",
        metavar="TASK=NPY",
        help="attach the class-prompt embeddings of a task (the authors' *_prompt.npy, C x 1536)",
    )
    p.add_argument(
        "--labels",
        action="append",
        metavar="TASK=FILE",
        help="replace a task's vocabulary with the labels in FILE (one per line)",
    )
    p.add_argument(
        "--raw-weights",
        action="store_true",
        help="use state_dict instead of the EMA weights (state_dict_ema) the official evaluation uses",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from uniav.commands.args import parse_assignments
    from uniav.config import ModelConfig
    from uniav.official import base_config_from_file, convert_official
    from uniav.vocabularies import parse_vocabulary

    base = base_config_from_file(args.config) if args.config else ModelConfig.preset("paper")
    labels = {t: parse_vocabulary(Path(f).read_text()) for t, f in parse_assignments(args.labels, "--labels").items()}
    model = convert_official(
        args.checkpoint,
        args.out_dir,
        base=base,
        prompt_files=parse_assignments(args.prompts, "--prompts"),
        labels=labels,
        prefer_ema=not args.raw_weights,
    )
    cfg = model.config
    print(
        f"wrote {args.out_dir}: {model.num_parameters():,} parameters, D={cfg.embd_dim}, "
        f"tasks {', '.join(f'{t.name}({t.num_classes})' for t in cfg.tasks)}"
        + (f", prompt embeddings for {sorted(model.prompt_embeddings)}" if model.prompt_embeddings else "")
    )
    return 0
