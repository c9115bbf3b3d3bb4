"""`uniav evaluate`: ActivityNet-protocol mAP of a model per task, printed and written as a JSON report.

    uniav evaluate runs/uniav-sounds/best --config configs/uniav-sounds.yaml --split test -o report.json
    uniav evaluate checkpoints/uniav-sounds --data SED=data/uniav-sounds-all/sed/annotations.json \\
        --features SED=data/uniav-sounds-all-features/sed --subset testing
"""

from __future__ import annotations

import argparse

NAME = "evaluate"
HELP = "measure a model's detection mAP per task (ActivityNet protocol) on a dataset split"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model folder or Hugging Face Hub repo id")
    p.add_argument("--config", default=None, help="training YAML whose tasks section says where the data lives")
    p.add_argument(
        "--data",
        action="append",
        metavar="TASK=ANNOTATIONS",
        help="annotation file of a task (with --features); repeatable, adds to or replaces --config; its "
        "test / val subsets are 'test' or 'testing' / 'validation' or 'val', whichever it has",
    )
    p.add_argument(
        "--features", action="append", metavar="TASK=DIR", help="feature folder of a task given with --data; repeatable"
    )
    p.add_argument(
        "--feature-format",
        choices=("npz", "one-peace"),
        default="npz",
        help="layout of the --features folders (default npz, as written by `uniav extract`)",
    )
    p.add_argument(
        "--prompts",
        action="append",
        metavar="TASK=NPY",
        help="(C, text_dim) prompt embeddings of a task given with --data; repeatable",
    )
    p.add_argument("--split", choices=("test", "val"), default="test", help="which split to evaluate (default test)")
    p.add_argument(
        "--subset",
        action="append",
        default=None,
        metavar="NAME",
        help="annotation subset(s) to evaluate instead of the split's (e.g. public_eval); repeatable",
    )
    p.add_argument("--tasks", default=None, help="comma-separated subset of the tasks, e.g. tal,sed")
    p.add_argument(
        "--vocab",
        action="append",
        metavar="TASK=FILE",
        help="evaluate a task with the labels in FILE (one per line) instead of the model's, e.g. unseen classes "
        "for a zero-shot test; the annotation file's labels must be among them; repeatable",
    )
    p.add_argument("-o", "--output", default=None, help="write the JSON report here")
    p.add_argument("--batch-size", type=int, default=16, help="videos per forward pass (default 16)")
    p.add_argument("--revision", default=None, help="Hub revision of MODEL")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")


SUBSET_NAMES = {"val_split": ("validation", "val"), "test_split": ("test", "testing")}


def default_subsets(annotations: str) -> dict[str, tuple[str, ...]]:
    """For an annotation file given with --data: the split subsets under the names the file uses
    ("test" or "testing", "validation" or "val"; UniAV-Synth and ActivityNet say "testing")."""
    from uniav.data.annotations import load_annotation_db

    present = load_annotation_db(annotations).subsets()
    out = {}
    for field, names in SUBSET_NAMES.items():
        found = [n for n in names if n in present]
        out[field] = (found[0],) if found else (names[0],)
    return out


def data_configs(args: argparse.Namespace) -> tuple[dict, str | None]:
    """{TASK: TaskDataConfig} from --config and --data/--features/--prompts; and the config file, if any."""
    import dataclasses

    from uniav.commands.args import parse_assignments
    from uniav.data.config import TaskDataConfig
    from uniav.training.config import load_train_config

    tasks: dict[str, TaskDataConfig] = {}
    if args.config:
        tasks.update(load_train_config(args.config).tasks)
    data = parse_assignments(args.data, "--data")
    feats = parse_assignments(args.features, "--features")
    prompts = parse_assignments(args.prompts, "--prompts")
    for what, table in (("--features", feats), ("--prompts", prompts)):
        extra = sorted(set(table) - set(data) - set(tasks))
        if extra:
            raise ValueError(f"{what} given for task(s) {extra} without --data (or a --config entry)")
    no_features = sorted(set(data) - set(feats))
    if no_features:
        raise ValueError(f"--data given for task(s) {no_features} without --features TASK=DIR")
    for name, ann in data.items():
        tasks[name] = TaskDataConfig(
            annotations=ann,
            features=feats[name],
            feature_format=args.feature_format,
            prompt_embeddings=prompts.get(name),
            **default_subsets(ann),
        )
    for name in set(feats) - set(data):
        tasks[name] = dataclasses.replace(tasks[name], features=feats[name], feature_format=args.feature_format)
    for name in set(prompts) - set(data):
        tasks[name] = dataclasses.replace(tasks[name], prompt_embeddings=prompts[name])
    if not tasks:
        raise ValueError(
            "no data to evaluate on: give --config TRAIN.yaml or --data TASK=ANNOTATIONS --features TASK=DIR"
        )
    if args.subset:
        field = "test_split" if args.split == "test" else "val_split"
        tasks = {k: dataclasses.replace(v, **{field: tuple(args.subset)}) for k, v in tasks.items()}
    if args.tasks:
        wanted = [t.strip().upper() for t in args.tasks.split(",") if t.strip()]
        missing = [t for t in wanted if t not in tasks]
        if missing:
            raise ValueError(f"--tasks {missing}: no data for them (have {sorted(tasks)})")
        tasks = {t: tasks[t] for t in wanted}
    return tasks, args.config


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import sys
    from pathlib import Path

    from uniav.commands.args import parse_assignments
    from uniav.data.dataset import load_task_dataset
    from uniav.evaluation.report import format_report, write_report
    from uniav.evaluation.runner import evaluate_model, load_prompt_embeddings
    from uniav.model.uniav import UniAV
    from uniav.pipeline.prompts import PromptEmbedder, lazy_text_encoder
    from uniav.vocabularies import parse_labels

    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    tasks, config_path = data_configs(args)
    model = UniAV.from_pretrained(args.model, revision=args.revision, device=args.device)
    served = {n.lower() for n in model.config.task_names}
    unknown = [t for t in tasks if t.lower() not in served]
    if unknown:
        if args.tasks or not args.config:
            raise ValueError(f"the model serves {list(model.config.task_names)}, not {unknown}")
        tasks = {k: v for k, v in tasks.items() if k.lower() in served}  # a config may hold more tasks
        if not tasks:
            raise ValueError(
                f"none of the configuration's tasks is served by the model ({list(model.config.task_names)})"
            )
    stored = {
        name: load_prompt_embeddings(model.config.task(name), data, model.config.text_dim)
        for name, data in tasks.items()
    }
    model.attach_prompt_embeddings({k: v for k, v in stored.items() if v is not None})
    labels = {
        t: parse_labels(Path(f).read_text(encoding="utf-8"))
        for t, f in parse_assignments(args.vocab, "--vocab").items()
    }
    datasets = {}
    for name, data in tasks.items():
        task = model.config.task(name)
        if name in labels:  # an open-vocabulary evaluation: the file's labels, the model's template
            task = dataclasses.replace(task, labels=labels.pop(name))
        datasets[task.name] = load_task_dataset(task, data, args.split)
    if labels:
        raise ValueError(f"--vocab given for task(s) {sorted(labels)} that are not evaluated")
    prompts = PromptEmbedder(model, lazy_text_encoder(model.config.encoder))
    report = evaluate_model(model, datasets, prompts, batch_size=args.batch_size)
    report.metadata.update(
        {
            "split": args.split,
            "config": config_path,
            "annotations": {k: tasks[k].annotations for k in datasets},
            "features": {k: tasks[k].features for k in datasets},
        }
    )
    print(format_report(report))
    for name, ds in datasets.items():
        if ds.missing:
            print(f"note: {name}: {len(ds.missing)} videos without features were left out", file=sys.stderr)
    if args.output:
        write_report(report, args.output)
        print(f"report written to {args.output}", file=sys.stderr)
    return 0
