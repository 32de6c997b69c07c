"""ONNX Runtime static quantization (QDQ): int8 weights per channel, activations calibrated on training rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.methods import onnx_common as oc
from quantrack.methods.base import Inputs, Method, QuantContext, as_inputs, rows_of

@dataclass(frozen=True)
class OnnxStaticConfig(MethodConfig):
    per_channel: bool = knob(True, "a scale per output channel keeps small-range channels from rounding to 0")
    quant_format: str = knob("QDQ", "QuantizeLinear/DequantizeLinear pairs: ORT's recommended format on CPU")
    activation_type: str = knob("QUInt8", "unsigned int8 activations: ORT's x86 kernels (u8s8) expect them")
    weight_type: str = knob("QInt8", "signed int8 weights: symmetric around 0, as trained weights are")
    calibration_rows: int = knob(1024, "MinMax ranges settle on about a thousand rows; more only costs time")
    calibration_batch_size: int = knob(128, "rows per calibration call: quick, and modest memory")

    def __post_init__(self) -> None:
        self._one_of("per_channel", (False, True))
        self._one_of("quant_format", ("QDQ", "QOperator"))
        self._one_of("activation_type", ("QUInt8", "QInt8"))
        self._one_of("weight_type", ("QInt8", "QUInt8"))
        self._positive_ints("calibration_rows", "calibration_batch_size")


class _Rows:
    """A CalibrationDataReader over calibration rows, in batches (ORT's reader protocol: get_next/None)."""

    def __init__(self, feed: Callable[[Inputs], dict[str, np.ndarray]], calibration: Inputs, batch_size: int = 128,
                 max_rows: int = 1024) -> None:
        n = min(len(calibration[0]), max_rows)
        self._batches = iter([feed(rows_of(calibration, slice(lo, min(lo + batch_size, n))))
                              for lo in range(0, n, batch_size)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize(model_bytes: bytes, calibration: Inputs, config: OnnxStaticConfig | None = None) -> bytes:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    config = config or OnnxStaticConfig()
    feed = oc.OnnxVariant("float", model_bytes, 0).feed  # the graph's own input names and types
    reader = type("Reader", (_Rows, CalibrationDataReader), {})(feed, as_inputs(calibration),
                                                                batch_size=config.calibration_batch_size,
                                                                max_rows=config.calibration_rows)
    with oc.scratch() as d, oc.quiet():
        src, dst = d / "float.onnx", d / "int8.onnx"
        src.write_bytes(model_bytes)
        quantize_static(src, dst, reader, quant_format=QuantFormat[config.quant_format],
                        per_channel=config.per_channel, activation_type=QuantType[config.activation_type],
                        weight_type=QuantType[config.weight_type])
        return dst.read_bytes()


def apply(ctx: QuantContext) -> oc.OnnxVariant:
    calibration = ctx.require_calibration()
    float_bytes, params = oc.float_graph(ctx)
    config = ctx.config_or(OnnxStaticConfig())
    return oc.OnnxVariant(ctx.method, quantize(float_bytes, calibration, config), params, ctx.threads)


def load(path: Path, fresh: nn.Module, name: str, config: OnnxStaticConfig) -> oc.OnnxVariant:
    return oc.load_variant(name, path, fresh)


METHOD = Method(config=OnnxStaticConfig, summary="ONNX Runtime quantize_static (QDQ), per-channel int8 weights, calibrated activations",
                apply=apply, load=load, requires=("onnx", "onnxruntime"), onnx_graph=True)
