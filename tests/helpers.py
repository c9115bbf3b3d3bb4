"""Small builders shared by the tests."""

from __future__ import annotations

from uniav.config import ModelConfig, TaskConfig


def tiny_config(**overrides) -> ModelConfig:
    tasks = (
        TaskConfig(
            "TAL",
            ("run", "jump", "swim"),
            class_aware=False,
            max_seq_len=64,
            feat_stride=8,
            prompt_template="A visual event of {label}.",
        ),
        TaskConfig("SED", ("dog", "horn"), class_aware=True, max_seq_len=32, feat_stride=4),
    )
    base = dict(tasks=tasks, visual_dim=12, audio_dim=10, text_dim=16, embd_dim=16, head_dim=16, n_head=2, droppath=0.0)
    base.update(overrides)
    return ModelConfig(**base)


def signal_model_config(**overrides) -> ModelConfig:
    """A small model on the weight-free `signal` encoder (visual 384, audio 256, text 512)."""
    from uniav.config import EncoderSpec, paper_tasks

    tasks = tuple(
        t.__class__(
            **{**t.to_dict(), "labels": tuple(t.labels[:6]), "max_seq_len": 64, "tiou_thresholds": t.tiou_thresholds}
        )
        for t in paper_tasks()
    )
    base = dict(
        tasks=tasks,
        visual_dim=384,
        audio_dim=256,
        text_dim=512,
        embd_dim=32,
        head_dim=32,
        n_head=2,
        droppath=0.0,
        encoder=EncoderSpec.uniform("signal"),
    )
    base.update(overrides)
    return ModelConfig(**base)


def write_test_clip(
    path,
    seconds: float = 6.0,
    fps: int = 16,
    size: tuple[int, int] = (160, 120),
    audio: bool = True,
    sample_rate: int = 16000,
) -> None:
    """An H.264/AAC clip: a white square moving on grey, and 440 Hz tone bursts every other second."""
    import av
    import numpy as np

    w, h = size
    n = int(seconds * fps)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        aus = out.add_stream("aac", rate=sample_rate) if audio else None
        if aus is not None:
            aus.layout = "mono"
        for i in range(n):
            img = np.full((h, w, 3), 90, np.uint8)
            x = int((w - 20) * (0.5 + 0.5 * np.sin(i / 5)))
            img[40:60, x : x + 20] = 255
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if aus is not None:
            t = np.arange(int(seconds * sample_rate)) / sample_rate
            wave = (0.3 * np.sin(2 * np.pi * 440 * t) * ((t.astype(int) % 2) == 0)).astype(np.float32)
            for start in range(0, len(wave), 1024):
                chunk = wave[start : start + 1024][None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate = sample_rate
                for pkt in aus.encode(frame):
                    out.mux(pkt)
            for pkt in aus.encode():
                out.mux(pkt)
