"""ONNX Runtime dynamic quantization: int8 MatMul/Conv weights, activations quantized per call."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from quantrack.methods import onnx_common as oc
from quantrack.methods.base import Method, QuantContext

NAME = "onnx-int8-dynamic"


def quantize(model_bytes: bytes) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # ORT's dynamic quantizer handles MatMul and Conv, not Gemm (which the exporter emits for Linear).
    model_bytes = oc.gemm_to_matmul(model_bytes)
    with oc.scratch() as d, oc.quiet():
        src, dst = d / "float.onnx", d / "int8.onnx"
        src.write_bytes(model_bytes)
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=False)
        return dst.read_bytes()


def apply(ctx: QuantContext) -> oc.OnnxVariant:
    float_bytes, params = oc.float_graph(ctx)
    return oc.OnnxVariant(NAME, quantize(float_bytes), params, ctx.threads)


def load(path: Path, fresh: nn.Module) -> oc.OnnxVariant:
    return oc.load_variant(NAME, path, fresh)


METHOD = Method(name=NAME, summary="ONNX Runtime quantize_dynamic: int8 weights, activations quantized at run time",
                apply=apply, load=load, requires=("onnx", "onnxruntime"), onnx_graph=True)
