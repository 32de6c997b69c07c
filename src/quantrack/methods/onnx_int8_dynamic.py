"""ONNX Runtime dynamic quantization: int8 MatMul/Conv weights, activations quantized per call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.methods import onnx_common as oc
from quantrack.methods.base import Method, QuantContext

@dataclass(frozen=True)
class OnnxDynamicConfig(MethodConfig):
    per_channel: bool = knob(False, "ORT's default: one scale per weight tensor, which its int8 MatMul kernels run fastest")
    weight_type: str = knob("QInt8", "signed int8 weights: symmetric around 0, as trained weights are")

    def __post_init__(self) -> None:
        self._one_of("per_channel", (False, True))
        self._one_of("weight_type", ("QInt8", "QUInt8"))


def quantize(model_bytes: bytes, config: OnnxDynamicConfig | None = None) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    config = config or OnnxDynamicConfig()

    # ORT's dynamic quantizer handles MatMul and Conv, not Gemm (which the exporter emits for Linear).
    model_bytes = oc.gemm_to_matmul(model_bytes)
    with oc.scratch() as d, oc.quiet():
        src, dst = d / "float.onnx", d / "int8.onnx"
        src.write_bytes(model_bytes)
        quantize_dynamic(src, dst, weight_type=QuantType[config.weight_type], per_channel=config.per_channel)
        return dst.read_bytes()


def apply(ctx: QuantContext) -> oc.OnnxVariant:
    float_bytes, params = oc.float_graph(ctx)
    return oc.OnnxVariant(ctx.method, quantize(float_bytes, ctx.config_or(OnnxDynamicConfig())), params, ctx.threads)


def load(path: Path, fresh: nn.Module, name: str, config: OnnxDynamicConfig) -> oc.OnnxVariant:
    return oc.load_variant(name, path, fresh)


METHOD = Method(config=OnnxDynamicConfig, summary="ONNX Runtime quantize_dynamic: int8 weights, activations quantized at run time",
                apply=apply, load=load, requires=("onnx", "onnxruntime"), onnx_graph=True)
