"""`uniav extract`: encode a dataset's media into per-video feature files, sharded over processes and machines.

    uniav extract data/synth/sed --encoder signal --out features/sed
    uniav extract data/synth/sed --encoder visual=signal,audio=yamnet,text=minilm --out features/sed-yamnet
    torchrun --nproc-per-node 4 -m uniav extract data/synth/tal --encoder clip-clap \\
        --encoder-option device=cuda --encoder-option audio.batch_size=8 --out features/tal

Each process reads RANK / WORLD_SIZE / LOCAL_RANK (set by torchrun; default 0 / 1 / 0) and takes its share of
the sorted video ids; re-running skips what is already written, so a stopped run resumes where it was.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uniav.config import EncoderSpec

NAME = "extract"
HELP = "extract encoder features of a dataset's videos into OUT/{id}.npz (shardable with torchrun)"
TASK_STRIDES = {"TAL": 8, "AVEL": 4, "SED": 4}  # the paper's grids (DESIGN 2)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dataset",
        help="a folder with annotations.json and videos/ (the UniAV-Synth layout), or an "
        "annotation JSON file (then give --media-dir)",
    )
    p.add_argument(
        "--encoder",
        required=True,
        metavar="KIND|visual=K,audio=K,text=K",
        help="the frozen encoders: one kind for all modalities (signal, clip-clap) or one per modality, e.g. "
        "visual=signal,audio=yamnet,text=minilm",
    )
    p.add_argument(
        "--encoder-option",
        action="append",
        default=[],
        metavar="[PART.]KEY=VALUE",
        help="an encoder option: KEY=VALUE goes to every part that takes it (device=cuda), visual.KEY=VALUE, "
        "audio.KEY=VALUE or text.KEY=VALUE to one part (audio.batch_size=8); repeatable",
    )
    p.add_argument("--out", required=True, help="folder to write {id}.npz and manifest.json to")
    p.add_argument("--media-dir", default=None, help="folder of the media files (default: DATASET/videos)")
    p.add_argument(
        "--task",
        type=str.upper,
        choices=tuple(TASK_STRIDES),
        default=None,
        help="the task the features are for: sets the grid's stride (TAL 8, AVEL and SED 4)",
    )
    p.add_argument(
        "--stride",
        type=int,
        default=None,
        help="snippet stride in frames at 16 fps (default: from --task, else from the dataset folder's "
        "name tal/avel/sed)",
    )
    p.add_argument("--num-frames", type=int, default=16, help="frames per visual snippet (default 16)")
    p.add_argument(
        "--cache-dir", default=None, help="also read/write the encoder feature cache in this folder (default: no cache)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def encoder_spec(encoder: str, options: list[str]) -> EncoderSpec:
    """The spec of ``--encoder`` with the ``--encoder-option`` items; precomputed features are refused (they
    need no extraction)."""
    from uniav.commands.args import parse_options
    from uniav.config import AudioKind, EncoderSpec, VisualKind
    from uniav.encoders import with_options

    spec = with_options(EncoderSpec.parse(encoder), parse_options(options))
    if spec.visual.kind is VisualKind.FEATURES or spec.audio.kind is AudioKind.FEATURES:
        raise ValueError(f"--encoder {encoder}: precomputed features need no extraction; name media encoders")
    return spec


def per_process_device(spec: EncoderSpec, local_rank: int) -> EncoderSpec:
    """`spec` with every part asked to run on ``cuda`` (or ``auto``) given GPU `local_rank` (one GPU per local
    process)."""
    from uniav.config import EncoderSpec, PartSpec

    def moved(part: PartSpec) -> PartSpec:
        if part.options.get("device") not in ("cuda", "auto"):
            return part
        return PartSpec(part.kind, {**part.options, "device": f"cuda:{local_rank}"})

    return EncoderSpec(moved(spec.visual), moved(spec.audio), moved(spec.text))


def resolve_stride(stride: int | None, task: str | None, dataset: str) -> int:
    """--stride, else the task's stride, else that of a dataset folder named tal / avel / sed."""
    from pathlib import Path

    if stride is not None:
        if stride < 1:
            raise ValueError(f"--stride must be a positive number of frames, got {stride}")
        return stride
    if task is not None:
        return TASK_STRIDES[task]
    name = Path(dataset).name.upper() if Path(dataset).is_dir() else Path(dataset).parent.name.upper()
    if name in TASK_STRIDES:
        return TASK_STRIDES[name]
    raise ValueError("cannot tell the snippet stride of this dataset: give --task TAL|AVEL|SED or --stride N")


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    import torch

    from uniav.data.annotations import load_annotation_db
    from uniav.data.extract import dataset_layout, extract_features, find_media
    from uniav.distributed import DistInfo
    from uniav.encoders import FeatureCache, build_encoder
    from uniav.media.grid import SnippetGrid

    dist = DistInfo.from_env()
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if local_world > 1:  # processes sharing a machine share its cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    spec = encoder_spec(args.encoder, args.encoder_option)
    if dist.world_size > 1 and torch.cuda.is_available():
        spec = per_process_device(spec, dist.local_rank)
    grid = SnippetGrid(stride=resolve_stride(args.stride, args.task, args.dataset), num_frames=args.num_frames)
    ann, media_dir = dataset_layout(args.dataset, args.media_dir)
    ids = list(load_annotation_db(ann).videos)
    if not ids:
        raise ValueError(f"{ann}: the annotation file lists no video")
    encoder = build_encoder(spec, cache=FeatureCache(args.cache_dir) if args.cache_dir else None)
    summary = extract_features(find_media(media_dir, ids), encoder, grid, args.out, dist, progress=not args.quiet)
    print(summary.line(), file=sys.stderr)
    if summary.failures:
        print(f"  failures listed in {args.out}/failures-rank{dist.rank}.json", file=sys.stderr)
    return 0
