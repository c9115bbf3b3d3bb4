"""`uniav train`: multi-task (or single-task) training from a YAML configuration."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train UniAV from a YAML configuration (round-robin multi-task, stop-and-go, EMA; torchrun for DDP)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="training configuration (see configs/)")
    p.add_argument("--tasks", default=None, help="train only these tasks, e.g. 'sed' (single-task baseline)")
    p.add_argument("--output", default=None, help="run folder (default: the config's output)")
    p.add_argument(
        "--init-from",
        default=None,
        help="start from this model (folder or Hub id), e.g. multi-task weights for single-task tuning",
    )
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs (after warm-up)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (one process per GPU under torchrun)")
    p.add_argument(
        "--no-prepare", action="store_true", help="do not generate UniAV-Synth or extract features that are missing"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from uniav.distributed import shutdown
    from uniav.training.config import load_train_config
    from uniav.training.trainer import Trainer

    cfg = load_train_config(args.config)
    if args.tasks:
        cfg = cfg.select_tasks([t.strip() for t in args.tasks.split(",") if t.strip()])
    if args.epochs is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=args.epochs))
    if not args.no_prepare:
        from uniav.training.prepare import prepare_data

        prepare_data(cfg, progress=not args.quiet)
    trainer = Trainer(cfg, device=args.device, output=args.output, init_from=args.init_from, progress=not args.quiet)
    trainer.fit(resume=args.resume)
    if trainer.dist.is_main:
        report = trainer.evaluate("test")
        from uniav.evaluation.report import format_report, write_report

        write_report(report, trainer.output / "test_report.json")
        print(format_report(report))
        print(f"model: {trainer.output / 'model'} (best on validation: {trainer.output / 'best'})")
    shutdown(trainer.dist)
    return 0
