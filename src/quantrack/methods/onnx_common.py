"""ONNX export and ONNX Runtime inference shared by the onnx-* methods.

The artifact is the .onnx file itself: a graph and tensors, no code, so loading it is safe.
Export uses the TorchScript-based exporter (``dynamo=False``): measured here it takes 0.3 s
against 5 s for the dynamo exporter and gives the same graph with a dynamic batch axis; the
dynamo exporter is the fallback when a future PyTorch drops the old one.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from quantrack.errors import first_line
from quantrack.methods.base import Inputs, MethodUnavailable, QuantContext, Variant, as_inputs, quiet_libraries

INPUT, OUTPUT = "x", "logits"

# Inputs that are quantization metadata (scale, zero point), per op type: not counted in the payload.
_QUANT_META_INPUTS: dict[str, tuple[int, ...]] = {
    "QuantizeLinear": (1, 2),
    "DequantizeLinear": (1, 2),
    "MatMulInteger": (2, 3),
    "ConvInteger": (2, 3),
    "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "QLinearConv": (1, 2, 4, 5, 6, 7),
}


def quiet():
    """torch.onnx and ORT's quantization tools log through Python logging and print notes."""
    return quiet_libraries(("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnxruntime", "root"),
                           swallow_stdout=True)


def requirements() -> None:
    for mod in ("onnx", "onnxruntime"):
        try:
            __import__(mod)
        except ImportError as e:
            raise MethodUnavailable(f"package {mod!r} is not importable: {e}") from None


def input_names(model: nn.Module, n_inputs: int) -> list[str]:
    """The graph's input names: the forward's own parameter names where it has them
    (``input_ids``, ``attention_mask``), so a user's feed dict reads like their code."""
    import inspect

    try:
        params = [p.name for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if n_inputs == 1 and (not params or params[0] in ("x", "input")):
        return [INPUT]  # quantrack's own models: the name served models and old files use
    return params[:n_inputs] if len(params) >= n_inputs else [f"input_{i}" for i in range(n_inputs)]


def export(model: nn.Module, example: np.ndarray | Inputs) -> bytes:
    """The float model as ONNX bytes: one named input per model input, batch axis dynamic.

    ``example``: real input rows (two are used); their dtypes are kept, so token ids stay int64.
    """
    import torch

    requirements()
    model = model.eval()
    inputs = as_inputs(example)
    tensors = tuple(torch.from_numpy(np.ascontiguousarray(a[:2])) for a in inputs)
    names = input_names(model, len(tensors))
    buf = io.BytesIO()
    with quiet():
        try:
            torch.onnx.export(model, tensors, buf, dynamo=False, input_names=names, output_names=[OUTPUT],
                              dynamic_axes={**{n: {0: "batch"} for n in names}, OUTPUT: {0: "batch"}},
                              opset_version=17)
        except Exception:  # the TorchScript exporter is gone or failed: use the dynamo one
            buf = io.BytesIO()
            batch = torch.export.Dim("batch")
            try:
                program = torch.onnx.export(model, tensors, dynamo=True, input_names=names, output_names=[OUTPUT],
                                            dynamic_shapes=tuple({0: batch} for _ in tensors), verbose=False)
                program.save(buf)
            except Exception as e:
                raise MethodUnavailable(f"ONNX export failed: {type(e).__name__}: {first_line(e)}") from None
    return buf.getvalue()


def graph_params(model_bytes: bytes) -> int:
    """Parameters of an ONNX graph: the elements of its float initializers (int64 ones are shapes)."""
    import onnx

    m = onnx.load_from_string(model_bytes)
    return int(sum(int(np.prod(t.dims)) for t in m.graph.initializer if t.data_type != onnx.TensorProto.INT64))


def float_graph(ctx: QuantContext) -> tuple[bytes, int]:
    """The float ONNX graph to start from and its parameter count: the graph the user gave, or the
    torch model exported."""
    from quantrack.models import count_params

    if ctx.onnx_model is not None:
        requirements()
        return ctx.onnx_model, graph_params(ctx.onnx_model)
    return export(ctx.float_copy(), ctx.example), count_params(ctx.model)


def gemm_to_matmul(model_bytes: bytes) -> bytes:
    """Rewrite Gemm(x, W, b) as MatMul(x, W') + b so ORT's dynamic quantizer (MatMul, Conv only) sees it."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load_from_string(model_bytes)
    inits = {i.name: i for i in m.graph.initializer}
    nodes = []
    for node in m.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type != "Gemm" or node.input[1] not in inits or attrs.get("transA", 0)
                or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0):
            nodes.append(node)
            continue
        w_init = inits[node.input[1]]
        w = numpy_helper.to_array(w_init)
        if attrs.get("transB", 0):
            w = np.ascontiguousarray(w.T)
        w_init.CopyFrom(numpy_helper.from_array(w, name=w_init.name))
        out = node.output[0]
        if len(node.input) > 2 and node.input[2]:
            mid = f"{out}_matmul"
            nodes.append(helper.make_node("MatMul", [node.input[0], node.input[1]], [mid], name=f"{node.name}_MatMul"))
            nodes.append(helper.make_node("Add", [mid, node.input[2]], [out], name=f"{node.name}_Add"))
        else:
            nodes.append(helper.make_node("MatMul", [node.input[0], node.input[1]], [out], name=f"{node.name}_MatMul"))
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    # Shapes the exporter recorded (the dynamo one records many) no longer hold for the rewritten
    # weights; ORT's quantizer re-infers them and fails on a contradiction ("Inferred shape and
    # existing shape differ"), so they go and inference recomputes them.
    del m.graph.value_info[:]
    onnx.checker.check_model(m)
    return m.SerializeToString()


def without_value_info(model_bytes: bytes) -> bytes:
    """The graph without its recorded intermediate shapes: ORT's quantizers re-infer them, and a
    dynamo export's shapes recorded for its example batch contradict a dynamic batch axis."""
    import onnx

    m = onnx.load_from_string(model_bytes)
    if not len(m.graph.value_info):
        return model_bytes
    del m.graph.value_info[:]
    return m.SerializeToString()


def onnx_payload(model_bytes: bytes) -> int:
    """The assignment's formula over the graph's stored tensors: elements x bytes of their type.

    Skipped: quantization metadata (scale / zero-point inputs of the quantize ops) and int64
    tensors (reshape shapes, not parameters).
    """
    import onnx
    from onnx import numpy_helper

    m = onnx.load_from_string(model_bytes)
    meta: set[str] = set()
    # DynamicQuantizeLinear's second output is the activations' scale; the dynamic quantizer
    # multiplies it by the weight's scale in a Mul, whose other input is therefore metadata.
    runtime_scales = {n.output[1] for n in m.graph.node if n.op_type == "DynamicQuantizeLinear" and len(n.output) > 1}
    for node in m.graph.node:
        for idx in _QUANT_META_INPUTS.get(node.op_type, ()):
            if idx < len(node.input):
                meta.add(node.input[idx])
        if node.op_type == "Mul" and runtime_scales.intersection(node.input):
            meta.update(i for i in node.input if i not in runtime_scales)
    total = 0
    for init in m.graph.initializer:
        if init.name in meta:
            continue
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.int64:
            continue
        total += arr.size * arr.dtype.itemsize
    return int(total)


def _ort_version() -> str:
    import onnxruntime as ort

    return ort.__version__


def session(model_bytes: bytes, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # errors only: ORT's C++ logger writes straight to stderr
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


class OnnxVariant(Variant):
    """An ONNX graph run by ONNX Runtime on the CPU with a fixed number of threads."""

    def __init__(self, name: str, model_bytes: bytes, params: int, threads: int = 1) -> None:
        self.name = name
        self.model_bytes = model_bytes
        self.params = params
        self.payload_bytes = onnx_payload(model_bytes)
        self.threads = threads
        self._session = session(model_bytes, threads)
        self._inputs = self._session.get_inputs()
        # What ran it, for the report (hardware honesty): the provider ORT actually assigned.
        self.runtime = f"ONNX Runtime {_ort_version()}, {self._session.get_providers()[0]}, {threads} thread(s)"

    def feed(self, x: np.ndarray | Inputs) -> dict[str, np.ndarray]:
        """Inputs by the graph's names; float inputs as float32 (the graph's type), others as they are."""
        arrays = as_inputs(x)
        if len(arrays) != len(self._inputs):
            raise ValueError(f"{self.name} takes {len(self._inputs)} inputs, got {len(arrays)}")
        return {meta.name: np.ascontiguousarray(a, dtype=np.float32 if meta.type == "tensor(float)" else None)
                for meta, a in zip(self._inputs, arrays, strict=True)}

    def runner(self, x: np.ndarray | Inputs) -> Callable[[], Any]:
        feed = self.feed(x)
        run = self._session.run
        return lambda: run(None, feed)

    def outputs(self, x: np.ndarray | Inputs) -> np.ndarray:
        return np.asarray(self._session.run(None, self.feed(x))[0], dtype=np.float32)

    def save(self, directory: Path) -> Path:
        path = Path(directory) / f"{self.name}.onnx"
        path.write_bytes(self.model_bytes)
        return path


def load_variant(name: str, path: Path, fresh: nn.Module, threads: int = 1) -> OnnxVariant:
    """An .onnx file is data, not code: read it back as it was saved."""
    from quantrack.models import count_params

    requirements()
    return OnnxVariant(name, Path(path).read_bytes(), count_params(fresh), threads)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """ORT's quantizers read and write files: a private temporary directory for them."""
    with tempfile.TemporaryDirectory(prefix="quantrack-onnx-") as d:
        yield Path(d)


def optimize_transformer(model_bytes: bytes) -> bytes:
    """ORT's transformer optimizer (BERT-style fusions: Attention, SkipLayerNormalization, Gelu),
    heads and width detected from the graph. Raises MethodUnavailable when it cannot fuse."""
    from onnxruntime.transformers.optimizer import optimize_model

    with scratch() as d, quiet():
        src, dst = d / "float.onnx", d / "optimized.onnx"
        src.write_bytes(model_bytes)
        try:
            opt = optimize_model(str(src), model_type="bert", num_heads=0, hidden_size=0, opt_level=0)
            opt.save_model_to_file(str(dst))
            # The fused contrib ops' outputs have no types for ONNX's shape inference, which the
            # quantizer needs: ORT's symbolic shape inference knows them.
            from onnxruntime.quantization.shape_inference import quant_pre_process

            typed = d / "typed.onnx"
            quant_pre_process(str(dst), str(typed), skip_optimization=True, skip_symbolic_shape=False)
        except Exception as e:
            raise MethodUnavailable(f"ORT's transformer optimizer failed: {type(e).__name__}: {first_line(e)}") from None
        return typed.read_bytes()
