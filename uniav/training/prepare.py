"""Make a training configuration's data exist: generate UniAV-Synth and UniAV-Sounds when their
annotations are missing, then extract the features that are missing (with the configuration's encoders)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from uniav.config import EncoderSpec
from uniav.training.config import SoundsDataConfig, TrainConfig

if TYPE_CHECKING:
    from uniav.sounds import SoundsConfig


def prepare_data(cfg: TrainConfig, progress: bool = True) -> None:
    """Idempotent: a second call finds everything in place and does nothing."""
    from uniav.data.dataset import task_vocabulary
    from uniav.data.extract import ensure_features
    from uniav.distributed import barrier, init_distributed
    from uniav.encoders import FeatureCache, build_encoder
    from uniav.training.trainer import build_model_config

    dist = init_distributed("cpu")

    def missing(root: str | None) -> bool:
        """A task whose annotations lie under `root` and do not exist yet."""
        return root is not None and any(
            not Path(t.annotations).is_file() and Path(t.annotations).is_relative_to(root) for t in cfg.tasks.values()
        )

    todo_synth = missing(cfg.synth.root if cfg.synth else None)
    todo_sounds = missing(cfg.sounds.root if cfg.sounds else None)
    if todo_synth or todo_sounds:
        if dist.is_main:
            if todo_synth:
                generate_synth(cfg, progress)
            if todo_sounds:
                generate_sounds(cfg, progress)
        barrier(dist)
    encoder = build_encoder(EncoderSpec.from_dict(cfg.model.encoder), cache=FeatureCache())
    vocab = {name: task_vocabulary(data) for name, data in cfg.tasks.items()}
    mcfg = build_model_config(cfg, vocab, (encoder.visual_dim, encoder.audio_dim, encoder.text_dim))
    for name, data in cfg.tasks.items():
        ensure_features(mcfg.task(name), data, encoder, dist, progress)


def _frame_bar(title: str, progress: bool):
    from tqdm import tqdm

    bar = tqdm(total=1, desc=title, unit="frame", disable=not progress)

    def report(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, report


def generate_synth(cfg: TrainConfig, progress: bool = True) -> None:
    from uniav.synth.config import SynthConfig
    from uniav.synth.dataset import generate
    from uniav.synth.vocab import Kind

    assert cfg.synth is not None
    out = Path(cfg.synth.root)
    synth = SynthConfig(seed=cfg.synth.seed, videos=cfg.synth.videos, kinds=tuple(Kind(k) for k in cfg.synth.kinds))
    bar, report = _frame_bar(f"generating UniAV-Synth in {out}", progress)
    try:
        generate(synth, out, workers=cfg.synth.workers, progress=report)
    finally:
        bar.close()


def sounds_config(s: SoundsDataConfig) -> SoundsConfig:
    """The UniAV-Sounds generator settings of a training configuration's `sounds` section."""
    from uniav.sounds import SoundsConfig

    return SoundsConfig(
        root=Path(s.root),
        seed=s.seed,
        sed=s.sed,
        avel=s.avel,
        zeroshot_sed=s.zeroshot_sed,
        zeroshot_avel=s.zeroshot_avel,
        realsounds=Path(s.realsounds),
        realpictures=Path(s.realpictures),
        **({} if s.held_out is None else {"held_out": tuple(s.held_out)}),
    )


def generate_sounds(cfg: TrainConfig, progress: bool = True) -> None:
    from uniav.sounds import generate

    s = cfg.sounds
    assert s is not None
    sounds = sounds_config(s)
    bar, report = _frame_bar(f"generating UniAV-Sounds in {s.root}", progress)
    try:
        generate(sounds, workers=s.workers, progress=report)
    finally:
        bar.close()
