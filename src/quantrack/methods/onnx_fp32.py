"""The float model exported to ONNX and run by ONNX Runtime: the runtime's gain, no quantization."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from quantrack.core.method_config import NoConfig
from quantrack.models import count_params
from quantrack.methods import onnx_common as oc
from quantrack.methods.base import Method, MethodUnavailable, QuantContext

def apply(ctx: QuantContext) -> oc.OnnxVariant:
    if ctx.onnx_model is not None:  # measuring the same graph twice would only add noise
        raise MethodUnavailable("is the baseline here: the given ONNX graph run by ONNX Runtime")
    model_bytes = oc.export(ctx.float_copy(), ctx.example)
    return oc.OnnxVariant(ctx.method, model_bytes, count_params(ctx.model), ctx.threads)


def load(path: Path, fresh: nn.Module, name: str, config: NoConfig) -> oc.OnnxVariant:
    return oc.load_variant(name, path, fresh)


METHOD = Method(summary="torch.onnx export, float32, run by ONNX Runtime", apply=apply, load=load,
                requires=("onnx", "onnxruntime"), onnx_graph=True)
