"""ONNX Runtime static quantization (QDQ): int8 weights per channel, activations calibrated on training rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch import nn

from quantrack.methods import onnx_common as oc
from quantrack.methods.base import Inputs, Method, QuantContext, as_inputs, rows_of

NAME = "onnx-int8-static"


class _Rows:
    """A CalibrationDataReader over calibration rows, in batches (ORT's reader protocol: get_next/None)."""

    def __init__(self, feed: Callable[[Inputs], dict[str, np.ndarray]], calibration: Inputs, batch_size: int = 128,
                 max_rows: int = 1024) -> None:
        n = min(len(calibration[0]), max_rows)
        self._batches = iter([feed(rows_of(calibration, slice(lo, min(lo + batch_size, n))))
                              for lo in range(0, n, batch_size)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize(model_bytes: bytes, calibration: Inputs) -> bytes:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    feed = oc.OnnxVariant("float", model_bytes, 0).feed  # the graph's own input names and types
    reader = type("Reader", (_Rows, CalibrationDataReader), {})(feed, as_inputs(calibration))
    with oc.scratch() as d, oc.quiet():
        src, dst = d / "float.onnx", d / "int8.onnx"
        src.write_bytes(model_bytes)
        quantize_static(src, dst, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return dst.read_bytes()


def apply(ctx: QuantContext) -> oc.OnnxVariant:
    calibration = ctx.require_calibration(NAME)
    float_bytes, params = oc.float_graph(ctx)
    return oc.OnnxVariant(NAME, quantize(float_bytes, calibration), params, ctx.threads)


def load(path: Path, fresh: nn.Module) -> oc.OnnxVariant:
    return oc.load_variant(NAME, path, fresh)


METHOD = Method(name=NAME, summary="ONNX Runtime quantize_static (QDQ), per-channel int8 weights, calibrated activations",
                apply=apply, load=load, requires=("onnx", "onnxruntime"), onnx_graph=True)
