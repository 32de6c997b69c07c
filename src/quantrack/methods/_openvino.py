"""OpenVINO shared by the openvino-* methods: conversion, the IR artifact, the CPU plugin's run.

Conversion: a torch module through ``ov.convert_model(module, example_input=...)``; an ONNX
graph the user gave through OpenVINO's ONNX frontend. The batch axis is made dynamic either way.
The artifact is an IR folder (``model.xml`` + ``model.bin``: a graph and tensors, no code), and the
variant runs exactly what was saved: the IR is written first and read back. The CPU plugin gets
``INFERENCE_NUM_THREADS`` (the thread count the timing uses) and one stream; the precision it
really runs at (bf16 on AMX by default, f32 on AVX2) is read from the compiled model and reported.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from quantrack.errors import first_line
from quantrack.methods.base import Inputs, MethodUnavailable, QuantContext, Variant, as_inputs, quiet_libraries

EXTRA = "openvino"  # the optional extra that installs openvino and nncf
XML, BIN = "model.xml", "model.bin"
# Element types that are quantized storage: the Subtract/Multiply applied after converting them
# back to float take zero points and scales (metadata, not counted in the payload).
_LOW_BITS = ("i8", "u8", "i4", "u4", "nf4", "f4e2m1", "f8e4m3", "f8e5m2")


def quiet():
    """NNCF and OpenVINO log through Python logging and draw progress bars on stdout."""
    return quiet_libraries(("nncf", "openvino", "torch.export", "torch._dynamo", "torch.jit"), swallow_stdout=True)


def _ov():
    try:
        import openvino as ov
    except ImportError as e:
        raise MethodUnavailable(f"package 'openvino' is not importable: {first_line(e)} "
                                f"(pip install 'quantrack[{EXTRA}]')") from None
    return ov


ov_module = _ov  # the openvino module, or MethodUnavailable with the install line (lm/openvino.py uses it)


def convert(ctx: QuantContext):
    """The float model as an ov.Model with a dynamic batch axis: from the ONNX graph the user gave,
    else from the torch module (example rows trace it)."""
    import torch

    ov = _ov()
    with quiet():
        try:
            if ctx.onnx_model is not None:
                model = ov.convert_model(io.BytesIO(ctx.onnx_model))
            else:
                example = tuple(torch.from_numpy(np.ascontiguousarray(a[:2])) for a in as_inputs(ctx.example))
                model = ov.convert_model(ctx.float_copy(), example_input=example)
        except Exception as e:
            raise MethodUnavailable(f"OpenVINO conversion failed: {type(e).__name__}: {first_line(e)}") from None
    shapes = {}
    for inp in model.inputs:
        shape = inp.get_partial_shape()
        if shape.rank.is_static and shape.rank.get_length() > 0 and not shape[0].is_dynamic:
            shape[0] = ov.Dimension()
            shapes[inp] = shape
    if shapes:
        model.reshape(shapes)
    return model


def is_transformer(model) -> bool:
    """Self-attention in the graph: a fused attention op, or a Softmax (NNCF's TRANSFORMER mode then
    applies SmoothQuant and keeps the Softmax/LayerNorm paths in float)."""
    ops = {op.get_type_name() for op in model.get_ordered_ops()}
    return bool(ops & {"ScaledDotProductAttention", "Softmax", "SoftMax"}) and "MatMul" in ops


def payload(model) -> int:
    """The assignment's formula over the IR's constants: elements x stored bits / 8.

    Skipped: integer shape constants (i32/i64), the quantization metadata (FakeQuantize's ranges;
    the zero points and scales applied to a low-bit constant after its Convert)."""
    meta: set[int] = set()
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind == "FakeQuantize":
            meta.update(id_of(op.input_value(i).get_node()) for i in range(1, 5))
        elif kind == "Convert" and _is_low_bit_constant(op.input_value(0).get_node()):
            frontier = [op]
            for _ in range(3):  # Convert -> [Subtract zero point] -> Multiply scale (-> Reshape for groups)
                nxt = []
                for node in frontier:
                    for out in node.outputs():
                        for target in out.get_target_inputs():
                            user = target.get_node()
                            # weight - zero point, then * scale: the weight is input 0 (a zero point's own
                            # Convert feeds input 1, and must not mark the weight as metadata)
                            if target.get_index() == 0 and user.get_type_name() in ("Subtract", "Multiply"):
                                for i in range(user.get_input_size()):
                                    src = user.input_value(i).get_node()
                                    if src is not node:
                                        meta.add(id_of(src))
                                        if src.get_type_name() == "Convert":
                                            meta.add(id_of(src.input_value(0).get_node()))
                                nxt.append(user)
                frontier = nxt
    total = 0.0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Constant" or id_of(op) in meta:
            continue
        et = op.get_element_type()
        if et.is_integral() and et.get_type_name() in ("i32", "i64", "u32", "u64", "boolean"):
            continue
        n = int(np.prod(list(op.get_output_shape(0)))) if len(op.get_output_shape(0)) else 1
        total += n * et.bitwidth / 8
    return int(round(total))


def id_of(node) -> str:
    return node.get_friendly_name()


def _is_low_bit_constant(node) -> bool:
    return node.get_type_name() == "Constant" and node.get_element_type().get_type_name() in _LOW_BITS


def write_ir(model, compress_to_fp16: bool) -> tuple[bytes, bytes]:
    """The IR's (xml, bin) bytes, as ``ov.save_model`` writes them."""
    ov = _ov()
    with tempfile.TemporaryDirectory(prefix="quantrack-ov-") as d:
        ov.save_model(model, str(Path(d) / XML), compress_to_fp16=compress_to_fp16)
        return (Path(d) / XML).read_bytes(), (Path(d) / BIN).read_bytes()


class OpenVinoVariant(Variant):
    """An OpenVINO IR run by the CPU plugin with a fixed number of threads.

    ``precision``: None lets the plugin choose (its default: bf16 where AMX/AVX-512 BF16 exist);
    "f32" holds it to fp32. What it ran at is ``self.precision``.
    """

    def __init__(self, name: str, xml: bytes, weights: bytes, params: int, threads: int = 1,
                 precision: str | None = None) -> None:
        ov = _ov()
        self.name = name
        self.xml, self.weights = xml, weights
        self.params = params
        self.threads = threads
        core = ov.Core()
        self.model = core.read_model(model=xml, weights=ov.Tensor(np.frombuffer(weights, dtype=np.uint8).copy()))
        self.payload_bytes = payload(self.model)
        config: dict[str, Any] = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
        if precision is not None:
            config["INFERENCE_PRECISION_HINT"] = precision
        self.compiled = core.compile_model(self.model, "CPU", config)
        self._request = self.compiled.create_infer_request()
        self._input_types = [inp.get_element_type() for inp in self.compiled.inputs]
        self.precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        if "'" in self.precision:  # "<Type: 'float32'>" -> float32
            self.precision = self.precision.split("'")[1]
        self.runtime = (f"OpenVINO {ov.__version__.split('-')[0]} CPU plugin, inference precision {self.precision}, "
                        f"{self.compiled.get_property('INFERENCE_NUM_THREADS')} thread(s)")

    def _feed(self, x: np.ndarray | Inputs) -> list[np.ndarray]:
        arrays = as_inputs(x)
        if len(arrays) != len(self._input_types):
            raise ValueError(f"{self.name} takes {len(self._input_types)} inputs, got {len(arrays)}")
        return [np.ascontiguousarray(a, dtype=t.to_dtype()) for a, t in zip(arrays, self._input_types, strict=True)]

    def runner(self, x: np.ndarray | Inputs) -> Callable[[], Any]:
        feed = self._feed(x)
        infer = self._request.infer
        return lambda: infer(feed, share_inputs=True)[0]  # the first output, as an array

    def outputs(self, x: np.ndarray | Inputs) -> np.ndarray:
        result = self._request.infer(self._feed(x))
        return np.array(result[self.compiled.output(0)], dtype=np.float32)

    def save(self, directory: Path) -> Path:
        folder = Path(directory) / f"{self.name}.openvino"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / XML).write_bytes(self.xml)
        (folder / BIN).write_bytes(self.weights)
        return folder


def variant(name: str, model, ctx: QuantContext, params: int, *, compress_to_fp16: bool,
            precision: str | None = None) -> OpenVinoVariant:
    """Save the model as IR, then run what was saved."""
    xml, weights = write_ir(model, compress_to_fp16)
    return OpenVinoVariant(name, xml, weights, params, ctx.threads, precision)


def float_params(ctx: QuantContext) -> int:
    if ctx.onnx_model is not None:
        from quantrack.methods import onnx_common as oc

        return oc.graph_params(ctx.onnx_model)
    from quantrack.models import count_params

    return count_params(ctx.model)


def load_variant(name: str, path: Path, fresh: nn.Module | None, precision: str | None = None,
                 threads: int = 1) -> OpenVinoVariant:
    """An IR folder is data, not code: read back its two files, nothing else."""
    from quantrack.models import count_params

    folder = Path(path)
    xml, weights = (folder / XML).read_bytes(), (folder / BIN).read_bytes()
    return OpenVinoVariant(name, xml, weights, count_params(fresh) if fresh is not None else 0, threads, precision)


def calibration_dataset(rows: Inputs, max_items: int):
    """The calibration rows as an nncf.Dataset: one row (every input) per item, as served at batch 1."""
    import nncf

    n = min(len(rows[0]), max_items)
    return nncf.Dataset([tuple(np.ascontiguousarray(a[i:i + 1]) for a in rows) for i in range(n)],
                        lambda item: list(item))


@contextlib.contextmanager
def nncf_errors(what: str):
    """An NNCF failure as the method's one-line reason."""
    try:
        yield
    except MethodUnavailable:
        raise
    except ImportError as e:
        raise MethodUnavailable(f"package 'nncf' is not importable: {first_line(e)} (pip install "
                                f"'quantrack[{EXTRA}]')") from None
    except Exception as e:
        raise MethodUnavailable(f"{what} failed: {type(e).__name__}: {first_line(e)}") from None
