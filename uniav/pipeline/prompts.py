"""Prompt embeddings of a vocabulary, and the training class each label borrows offsets from (DESIGN 7).

`PromptEmbedder` is the one place the pipeline and evaluation turn a `Vocabulary` into text embeddings:
prompts the model was trained with come from its attached embeddings when it has them (precomputed ONE-PEACE
prompt files), every other prompt from the text encoder; each prompt is embedded once per embedder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from uniav.config import ClassifierKind, EncoderSpec, TaskConfig
from uniav.encoders import Encoder, UnknownPromptError, build_encoder
from uniav.model.uniav import UniAV
from uniav.vocabularies import Vocabulary, VocabularyError

TextFn = Callable[[Sequence[str]], np.ndarray]


def lazy_text_encoder(spec: EncoderSpec) -> TextFn:
    """The text side of an encoder spec, built on first use (evaluating stored features needs no decoder)."""
    built: list[Encoder] = []

    def encode(prompts: Sequence[str]) -> np.ndarray:
        if not built:
            built.append(build_encoder(spec))
        return built[0].encode_text(prompts)

    return encode


def nearest_labels(
    query: torch.Tensor, keys: torch.Tensor, query_labels: Sequence[str], key_labels: Sequence[str]
) -> torch.Tensor:
    """For each query label its training label: itself when present, else the highest cosine (rows of
    `query` / `keys` are L2-normalised projected prompt embeddings)."""
    index = {lab: i for i, lab in enumerate(key_labels)}
    nearest = (query @ keys.T).argmax(dim=1)
    exact = torch.tensor([index.get(lab, -1) for lab in query_labels], dtype=torch.long)
    return torch.where(exact >= 0, exact, nearest)


class PromptEmbedder:
    """Embeddings of vocabularies for one model, with a memo of every prompt embedded (thread-safe).

    `encode_text`: the text encoder (prompts -> (n, text_dim) float32), or None when the model can only use
    its attached embeddings (then a new prompt raises `VocabularyError`).
    """

    def __init__(self, model: UniAV, encode_text: TextFn | None, _memo: dict[str, np.ndarray] | None = None) -> None:
        self.model = model
        self.encode_text = encode_text
        self._memo: dict[str, np.ndarray] = {} if _memo is None else _memo
        self._lock = threading.Lock()

    def with_model(self, model: UniAV) -> PromptEmbedder:
        """The same text encoder (and memo of embedded prompts) for another model, e.g. a training run's EMA."""
        return self if model is self.model else PromptEmbedder(model, self.encode_text, self._memo)

    def _attached(self, task: TaskConfig, vocab: Vocabulary) -> dict[str, np.ndarray]:
        """The attached embeddings of `vocab`'s prompts that are training prompts."""
        attached = self.model.prompt_embeddings.get(task.name)
        if attached is None or vocab.template != task.prompt_template:
            return {}
        index = {lab: i for i, lab in enumerate(task.labels)}
        return {
            prompt: attached[index[lab]].numpy()
            for lab, prompt in zip(vocab.labels, vocab.prompts(), strict=True)
            if lab in index
        }

    def embed(self, vocab: Vocabulary) -> torch.Tensor:
        """(C, text_dim) float32 embeddings of the vocabulary's prompts, in label order."""
        task = self.model.config.task(vocab.task)
        prompts = vocab.prompts()
        with self._lock:
            known = {**self._attached(task, vocab), **{p: self._memo[p] for p in prompts if p in self._memo}}
            missing = list(dict.fromkeys(p for p in prompts if p not in known))
        if missing:
            if self.encode_text is None:
                raise VocabularyError(
                    task.name, "labels", f"this model has no text encoder and no stored embedding for {missing[0]!r}"
                )
            try:
                emb = np.asarray(self.encode_text(missing), dtype=np.float32)
            except UnknownPromptError as exc:
                raise VocabularyError(task.name, "labels", str(exc)) from None
            want = (len(missing), self.model.config.text_dim)
            if emb.shape != want:
                raise ValueError(f"the text encoder gave embeddings of shape {emb.shape}; the model expects {want}")
            with self._lock:
                self._memo.update(zip(missing, emb, strict=True))
                known.update({p: self._memo[p] for p in missing})
        return torch.from_numpy(np.stack([known[p] for p in prompts]))

    def text(self, vocab: Vocabulary) -> torch.Tensor | None:
        """What the classification head compares the clip with: the prompt embeddings, or None for a
        model with convolutional classifiers (whose vocabulary is fixed)."""
        task = self.model.config.task(vocab.task)
        if self.model.config.classifier is not ClassifierKind.LANGUAGE:
            if vocab.labels != task.labels:
                raise VocabularyError(
                    task.name, "labels", "this model has convolutional classifiers: its labels are fixed"
                )
            return None
        return self.embed(vocab)

    def class_map(self, vocab: Vocabulary) -> torch.Tensor:
        """(C,) for each label of `vocab`, the training class whose class-aware offsets it uses."""
        task = self.model.config.task(vocab.task)
        if vocab.labels == task.labels or not task.class_aware:
            return torch.arange(vocab.num_classes)
        head = self.model.cls_head
        with torch.inference_mode():
            device = next(self.model.parameters()).device
            query = head.text_embeddings(self.embed(vocab).to(device)).cpu()
            keys = head.text_embeddings(self.embed(task.vocabulary).to(device)).cpu()
        return nearest_labels(query, keys, vocab.labels, task.labels)
