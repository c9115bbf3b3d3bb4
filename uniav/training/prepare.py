"""Make a training configuration's data exist: generate UniAV-Synth when its annotations are
missing, then extract the features that are missing (with the configuration's encoder)."""

from __future__ import annotations

from pathlib import Path

from uniav.config import EncoderSpec
from uniav.training.config import TrainConfig


def prepare_data(cfg: TrainConfig, progress: bool = True) -> None:
    """Idempotent: a second call finds everything in place and does nothing."""
    from uniav.data.dataset import task_vocabulary
    from uniav.data.extract import ensure_features
    from uniav.distributed import barrier, init_distributed
    from uniav.encoders import FeatureCache, build_encoder
    from uniav.training.trainer import build_model_config

    dist = init_distributed("cpu")
    if cfg.synth is not None and any(not Path(t.annotations).is_file() for t in cfg.tasks.values()):
        if dist.is_main:
            generate_synth(cfg, progress)
        barrier(dist)
    encoder = build_encoder(EncoderSpec.from_dict(cfg.model.encoder), cache=FeatureCache())
    vocab = {name: task_vocabulary(data) for name, data in cfg.tasks.items()}
    mcfg = build_model_config(cfg, vocab, (encoder.visual_dim, encoder.audio_dim, encoder.text_dim))
    for name, data in cfg.tasks.items():
        ensure_features(mcfg.task(name), data, encoder, dist, progress)


def generate_synth(cfg: TrainConfig, progress: bool = True) -> None:
    from tqdm import tqdm

    from uniav.synth.config import SynthConfig
    from uniav.synth.dataset import generate

    assert cfg.synth is not None
    out = Path(cfg.synth.root)
    bar = tqdm(total=1, desc=f"generating UniAV-Synth in {out}", unit="frame", disable=not progress)

    def report(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        generate(
            SynthConfig(seed=cfg.synth.seed, videos=cfg.synth.videos), out, workers=cfg.synth.workers, progress=report
        )
    finally:
        bar.close()
