"""The multi-task trainer (paper 3.4 / 4.2).

One iteration forwards one batch of each active task in turn and updates after each (round-robin
batch-level sampling). AdamW, linear warm-up then cosine decay (stepped per iteration), gradient
clipping, drop-path (model config), an EMA of the weights that is evaluated and exported, the
running loss normaliser per task, dynamic stop-and-go on validation mAP, a checkpoint every epoch
with exact resume, a JSON-lines metrics log, and DistributedDataParallel under torchrun (gloo on
CPU). Any subset of tasks trains the same way (one task = the single-task baseline).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from uniav.config import EncoderSpec, ModelConfig, TaskConfig, paper_tasks
from uniav.distributed import DistInfo, barrier, broadcast_object, init_distributed
from uniav.model.uniav import UniAV
from uniav.ops.losses import LossOutput, uniav_loss
from uniav.ops.targets import assign_targets
from uniav.training.config import TrainConfig, TrainConfigError
from uniav.training.ema import ModelEma
from uniav.training.optim import make_optimizer
from uniav.training.round_robin import epoch_batches, iterations_per_epoch, sample_rng
from uniav.training.schedule import warmup_cosine
from uniav.training.stop_and_go import StopAndGo

CHECKPOINT = "last.pt"


def build_model_config(
    cfg: TrainConfig, vocabularies: dict[str, tuple[str, ...]], dims: tuple[int, int, int]
) -> ModelConfig:
    """The model a training configuration describes: preset + overrides, the tasks it trains (paper
    defaults for TAL/AVEL/SED) with the data's vocabularies, and the encoder's widths."""
    base = ModelConfig.preset(cfg.model.preset)
    defaults = {t.name: t for t in paper_tasks()}
    tasks = []
    for name, data in cfg.tasks.items():
        proto = defaults.get(name)
        fields = {
            **(proto.to_dict() if proto else {"name": name, "class_aware": True, "max_seq_len": 256}),
            **data.overrides,
            "labels": tuple(vocabularies[name]),
            "name": name,
        }
        try:
            tasks.append(TaskConfig.from_dict(fields))
        except (TypeError, ValueError) as exc:
            raise TrainConfigError(f"tasks.{name}: {exc}") from exc
    d = base.to_dict()
    unknown = sorted(set(cfg.model.overrides) - set(d) - {"tasks"})
    if unknown:
        raise TrainConfigError(f"model.overrides: unknown field(s) {unknown}")
    d.update(cfg.model.overrides)
    d.update(
        provenance=cfg.provenance.to_dict(),
        tasks=[t.to_dict() for t in tasks],
        encoder=EncoderSpec.from_dict(cfg.model.encoder).to_dict(),
        visual_dim=dims[0],
        audio_dim=dims[1],
        text_dim=dims[2],
    )
    try:
        return ModelConfig.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise TrainConfigError(f"model: {exc}") from exc


@dataclass
class TrainState:
    epoch: int = 0  # next epoch to run (warm-up epochs included)
    step: int = 0  # iterations done (the schedule's clock)
    normalizers: dict[str, float] = field(default_factory=dict)
    best_metric: float = -1.0
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Builds everything a configuration describes and runs the training loop."""

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        device: str = "cpu",
        output: str | Path | None = None,
        init_from: str | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        from uniav.data.dataset import load_task_dataset, task_vocabulary
        from uniav.encoders import build_encoder
        from uniav.evaluation.runner import load_prompt_embeddings
        from uniav.pipeline.prompts import PromptEmbedder

        self.cfg = cfg
        self.dist: DistInfo = init_distributed(device)
        self.device = torch.device(device)
        self.output = Path(output or cfg.output)
        self.show_progress = progress and self.dist.is_main
        self.log = log if self.dist.is_main else (lambda _msg: None)
        torch.manual_seed(cfg.train.seed)

        vocab = {name: task_vocabulary(data) for name, data in cfg.tasks.items()}
        self.encoder = build_encoder(EncoderSpec.from_dict(cfg.model.encoder))
        dims = (self.encoder.visual_dim, self.encoder.audio_dim, self.encoder.text_dim)
        self.model_config = build_model_config(cfg, vocab, dims)
        self.model = UniAV(self.model_config).to(self.device)
        if init_from or cfg.model.init_from:
            self._init_from(init_from or cfg.model.init_from)
        self.tasks = [self.model_config.task(n) for n in cfg.tasks]
        self.train_sets = {t.name: load_task_dataset(t, cfg.tasks[t.name], "train") for t in self.tasks}
        self.val_sets = {t.name: load_task_dataset(t, cfg.tasks[t.name], "val") for t in self.tasks}
        for name, ds in self.train_sets.items():
            if len(ds) == 0:
                data = cfg.tasks[name]
                raise TrainConfigError(
                    f"task {name} has no training videos with features "
                    f"(annotations {data.annotations}, features {data.features})"
                )
        # embeddings read from files (encoders that cannot embed text) travel with the exported model
        stored = {t.name: load_prompt_embeddings(t, cfg.tasks[t.name], self.model_config.text_dim) for t in self.tasks}
        self.model.attach_prompt_embeddings({k: v for k, v in stored.items() if v is not None})
        self.prompts = PromptEmbedder(self.model, self.encoder.encode_text)
        self.texts = {t.name: self._to_device(self.prompts.text(t.vocabulary)) for t in self.tasks}
        self.batch_sizes = {t.name: cfg.tasks[t.name].batch_size for t in self.tasks}
        self.iters_per_epoch = cfg.train.iterations_per_epoch or iterations_per_epoch(
            {n: len(d) for n, d in self.train_sets.items()}, self.batch_sizes, self.dist.world_size
        )
        self.total_epochs = cfg.train.epochs + cfg.train.warmup_epochs
        self.optimizer = make_optimizer(self.model, cfg.train.learning_rate, cfg.train.weight_decay)
        self.ema = ModelEma(self.model, cfg.train.ema_decay)
        sg = cfg.stop_and_go
        self.stop_and_go = StopAndGo(
            [t.name for t in self.tasks],
            patience=sg.patience,
            min_delta=sg.min_delta,
            enabled=sg.enabled and len(self.tasks) > 1,
        )
        self.state = TrainState(normalizers={t.name: float(t.init_loss_norm) for t in self.tasks})
        self._items: dict[tuple[str, int], Any] = {}
        self.ddp = None
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp = DistributedDataParallel(self.model, find_unused_parameters=True)

    # ---- setup helpers ------------------------------------------------------------------------------
    def _to_device(self, x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else x.to(self.device)

    def _init_from(self, source: str) -> None:
        """Start from another model's weights (e.g. multi-task, then fine-tune one task)."""
        other = UniAV.from_pretrained(source)
        theirs, ours = other.state_dict(), self.model.state_dict()
        missing = [k for k in ours if k not in theirs]
        shape = [k for k in ours if k in theirs and theirs[k].shape != ours[k].shape]
        if missing or shape:
            raise TrainConfigError(
                f"--init-from {source}: does not fit this model (missing {missing[:8]}, shape mismatch {shape[:8]})"
            )
        self.model.load_state_dict({k: theirs[k] for k in ours})
        self.log(f"initialised from {source} ({len(theirs) - len(ours)} tensors of other tasks ignored)")

    @property
    def lr_schedule_steps(self) -> tuple[int, int]:
        return self.cfg.train.warmup_epochs * self.iters_per_epoch, self.total_epochs * self.iters_per_epoch

    def set_lr(self) -> float:
        warm, total = self.lr_schedule_steps
        lr = warmup_cosine(self.state.step, warm, total, self.cfg.train.learning_rate)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        return lr

    # ---- one step ---------------------------------------------------------------------------------
    def item(self, task: str, index: int):
        key = (task, index)
        if key not in self._items:
            self._items[key] = self.train_sets[task][index]
        return self._items[key]

    def batch_samples(self, task: TaskConfig, indices: np.ndarray, rng: np.random.Generator):
        from uniav.data.transforms import to_grid, train_crop

        return [
            train_crop(to_grid(self.item(task.name, int(i)), task), task, rng, self.cfg.train.crop_ratio)
            for i in indices
        ]

    def train_step(self, task: TaskConfig, samples) -> LossOutput:
        """Forward one batch of `task`, backward, clip, update, EMA."""
        model = self.model
        batch = model.make_batch([s.visual for s in samples], [s.audio for s in samples], task.name)
        points = torch.cat(model.points(batch.mask.shape[-1])).to(self.device)
        gt_cls, gt_off = assign_targets(
            points,
            [s.segments.to(self.device) for s in samples],
            [s.labels.to(self.device) for s in samples],
            task.num_classes,
            task.class_aware,
        )
        net = self.ddp if self.ddp is not None else model
        out = net(batch.visual, batch.audio, batch.mask, task.name, self.texts[task.name])
        loss = uniav_loss(
            torch.cat(out.cls_logits, 1),
            torch.cat(out.offsets, 1),
            torch.cat(out.masks, 1),
            gt_cls,
            gt_off,
            self.state.normalizers[task.name],
            num_classes=task.num_classes,
            class_aware=task.class_aware,
            label_smoothing=task.label_smoothing,
            loss_weight=task.loss_weight,
            regression=self.model_config.regression_loss,
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.final_loss.backward()
        if self.cfg.train.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.cfg.train.clip_grad_norm)
        self.optimizer.step()
        self.ema.update(model)
        self.state.normalizers[task.name] = loss.normalizer
        return loss

    # ---- epochs -----------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict[str, dict[str, float]]:
        self.model.train()
        active = self.stop_and_go.active
        tasks = [t for t in self.tasks if t.name in active]
        order = {
            t.name: epoch_batches(
                len(self.train_sets[t.name]),
                self.batch_sizes[t.name],
                self.iters_per_epoch,
                self.cfg.train.seed,
                i,
                epoch,
                self.dist.rank,
                self.dist.world_size,
            )
            for i, t in enumerate(self.tasks)
        }
        sums: dict[str, dict[str, float]] = {t.name: {"cls": 0.0, "reg": 0.0, "loss": 0.0, "n": 0} for t in tasks}
        bar = tqdm(
            range(self.iters_per_epoch),
            desc=f"epoch {epoch + 1}/{self.total_epochs}",
            disable=not self.show_progress,
            leave=False,
        )
        window: dict[str, list[float]] = {t.name: [] for t in tasks}
        for it in bar:
            lr = self.set_lr()
            for ti, task in enumerate(self.tasks):
                if task.name not in active:
                    continue
                rng = sample_rng(self.cfg.train.seed, ti, epoch, it, self.dist.rank)
                loss = self.train_step(task, self.batch_samples(task, order[task.name][it], rng))
                s = sums[task.name]
                s["cls"] += loss.cls_loss.item()
                s["reg"] += float(loss.reg_loss.item())
                s["loss"] += loss.final_loss.item()
                s["n"] += 1
                window[task.name].append(loss.final_loss.item())
            self.state.step += 1
            if self.dist.is_main and (it + 1) % self.cfg.train.log_every == 0:
                rec = {
                    "type": "train",
                    "epoch": epoch,
                    "iteration": self.state.step,
                    "lr": lr,
                    "loss": {k: float(np.mean(v)) for k, v in window.items() if v},
                }
                self._log_metrics(rec)
                bar.set_postfix({k: f"{v:.3f}" for k, v in rec["loss"].items()})
                window = {t.name: [] for t in tasks}
        bar.close()
        return {k: {m: v[m] / max(v["n"], 1) for m in ("cls", "reg", "loss")} for k, v in sums.items()}

    def evaluate(self, split: str = "val", model: UniAV | None = None):
        """ActivityNet-protocol mAP of the EMA model (or `model`) on `split` for every task."""
        from uniav.data.dataset import load_task_dataset
        from uniav.evaluation.runner import evaluate_model

        sets = (
            self.val_sets
            if split == "val"
            else {t.name: load_task_dataset(t, self.cfg.tasks[t.name], split) for t in self.tasks}
        )
        return evaluate_model(model or self.ema.module, sets, self.prompts)

    def fit(self, resume: bool = False, stop_after: int | None = None) -> TrainState:
        """Train from the current state (or the last checkpoint with `resume`) to the last epoch, or for
        `stop_after` epochs of this call (the run can be resumed later)."""
        if resume:
            self.load_checkpoint()
        self.output.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main and self.state.epoch == 0:
            (self.output / "train_config.json").write_text(
                json.dumps(dataclasses.asdict(self.cfg), indent=2, default=str)
            )
        self.log(
            f"training {', '.join(f'{t.name} ({len(self.train_sets[t.name])} videos)' for t in self.tasks)}: "
            f"{self.total_epochs} epochs x {self.iters_per_epoch} iterations, "
            f"{self.model.num_parameters():,} parameters, world size {self.dist.world_size}"
        )
        last = self.total_epochs if stop_after is None else min(self.total_epochs, self.state.epoch + stop_after)
        for epoch in range(self.state.epoch, last):
            t0 = time.time()
            losses = self.train_epoch(epoch)
            record: dict[str, Any] = {
                "type": "epoch",
                "epoch": epoch,
                "seconds": round(time.time() - t0, 2),
                "train_loss": losses,
                "active": self.stop_and_go.active,
            }
            if (epoch + 1) % self.cfg.train.eval_every == 0 or epoch == self.total_epochs - 1:
                metrics = None
                if self.dist.is_main:
                    report = self.evaluate("val")
                    metrics = {name: float(r.result.average_mAP) for name, r in report.tasks.items()}
                metrics = broadcast_object(metrics, self.dist)
                active = self.stop_and_go.update(metrics)
                record.update(val_average_mAP=metrics, next_active=active)
                mean = float(np.mean(list(metrics.values())))
                if self.dist.is_main and mean > self.state.best_metric:
                    self.state.best_metric = mean
                    self.export(self.output / "best", extra={"epoch": epoch, "val_average_mAP": metrics})
            self.state.epoch = epoch + 1
            self.state.history.append(record)
            self._log_metrics(record)
            self.log(self._epoch_line(record))
            self.save_checkpoint()
        if self.dist.is_main and self.state.epoch == self.total_epochs:
            self.export(self.output / "model", extra={"epoch": self.total_epochs - 1})
        barrier(self.dist)
        return self.state

    # ---- persistence ---------------------------------------------------------------------------------
    def _epoch_line(self, r: dict[str, Any]) -> str:
        loss = ", ".join(f"{k} {v['loss']:.3f}" for k, v in r["train_loss"].items())
        val = r.get("val_average_mAP")
        val_s = (" | val avg mAP " + ", ".join(f"{k} {100 * v:.1f}" for k, v in val.items())) if val else ""
        return f"epoch {r['epoch'] + 1}/{self.total_epochs} ({r['seconds']} s) loss {loss}{val_s}"

    def _log_metrics(self, record: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        self.output.mkdir(parents=True, exist_ok=True)
        with open(self.output / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "state": {
                "epoch": self.state.epoch,
                "step": self.state.step,
                "normalizers": self.state.normalizers,
                "best_metric": self.state.best_metric,
                "history": json.dumps(self.state.history),
            },
            "stop_and_go": json.dumps(self.stop_and_go.state_dict()),
            "torch_rng": torch.get_rng_state(),
            "model_config": json.dumps(self.model_config.to_dict()),
        }

    def save_checkpoint(self) -> Path | None:
        if not self.dist.is_main:
            return None
        ckpt_dir = self.output / "checkpoints"
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        tmp = ckpt_dir / (CHECKPOINT + ".tmp")
        torch.save(self.checkpoint_state(), tmp)
        tmp.replace(ckpt_dir / CHECKPOINT)
        return ckpt_dir / CHECKPOINT

    def load_checkpoint(self, path: str | Path | None = None) -> bool:
        path = Path(path) if path else self.output / "checkpoints" / CHECKPOINT
        if not path.is_file():
            self.log(f"no checkpoint at {path}: starting from scratch")
            return False
        ck = torch.load(path, map_location=self.device, weights_only=True)
        saved_cfg = ModelConfig.from_dict(json.loads(ck["model_config"]))
        if saved_cfg != self.model_config:
            raise TrainConfigError(f"{path} was written for another model configuration; use a new --output")
        self.model.load_state_dict(ck["model"])
        self.ema.load_state_dict(ck["ema"])
        self.optimizer.load_state_dict(ck["optimizer"])
        st = ck["state"]
        self.state = TrainState(
            int(st["epoch"]),
            int(st["step"]),
            {k: float(v) for k, v in st["normalizers"].items()},
            float(st["best_metric"]),
            json.loads(st["history"]),
        )
        self.stop_and_go.load_state_dict(json.loads(ck["stop_and_go"]))
        torch.set_rng_state(ck["torch_rng"].cpu())
        self.log(f"resumed from {path} at epoch {self.state.epoch + 1}")
        return True

    def export(self, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the EMA weights as a model folder (config.json + model.safetensors + card)."""
        from uniav.model_card import default_model_card

        model = self.ema.module
        card = default_model_card(model.config, model.num_parameters(), title="UniAV model (training export)")
        if extra:
            card += "\n```json\n" + json.dumps(extra, indent=2) + "\n```\n"
        return model.save_pretrained(folder, model_card=card)
