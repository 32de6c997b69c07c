"""ONNX Runtime static quantization (QDQ): int8 weights per channel, activations calibrated on training rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from quantrack.models import count_params
from quantrack.quantize import onnx_common as oc
from quantrack.quantize.base import Method, QuantContext

NAME = "onnx-int8-static"


class _Rows:
    """A CalibrationDataReader over training rows, in batches (ORT's reader protocol: get_next/None)."""

    def __init__(self, X: np.ndarray, batch_size: int = 128, max_rows: int = 1024) -> None:
        X = np.ascontiguousarray(X[:max_rows], dtype=np.float32)
        self._batches = iter([X[lo:lo + batch_size] for lo in range(0, len(X), batch_size)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {oc.INPUT: batch}


def quantize(model_bytes: bytes, X_calib: np.ndarray) -> bytes:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    reader = type("Reader", (_Rows, CalibrationDataReader), {})(X_calib)
    with oc.scratch() as d, oc.quiet():
        src, dst = d / "float.onnx", d / "int8.onnx"
        src.write_bytes(model_bytes)
        quantize_static(src, dst, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return dst.read_bytes()


def apply(ctx: QuantContext) -> oc.OnnxVariant:
    model_bytes = quantize(oc.export(ctx.float_copy(), ctx.X_train.shape[1]), ctx.X_train)
    return oc.OnnxVariant(NAME, model_bytes, count_params(ctx.model), ctx.threads)


def load(path: Path, fresh: nn.Module) -> oc.OnnxVariant:
    return oc.load_variant(NAME, path, fresh)


METHOD = Method(name=NAME, summary="ONNX Runtime quantize_static (QDQ), per-channel int8 weights, calibrated activations",
                apply=apply, load=load, requires=("onnx", "onnxruntime"))
