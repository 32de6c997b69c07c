"""openvino: the float model as OpenVINO ships it by default: fp16 weights in the IR, and the CPU
plugin's default inference precision (bf16 on CPUs with AMX or AVX-512 BF16, f32 elsewhere; the
report names which one ran)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from quantrack.methods import _openvino as ovc
from quantrack.methods.base import Method, QuantContext



def apply(ctx: QuantContext) -> ovc.OpenVinoVariant:
    return ovc.variant(ctx.method, ovc.convert(ctx), ctx, ovc.float_params(ctx), compress_to_fp16=True)


def load(path: Path, fresh: nn.Module, name: str, config) -> ovc.OpenVinoVariant:
    return ovc.load_variant(name, path, fresh)


METHOD = Method(summary="OpenVINO's defaults: fp16 weights in the IR, the CPU plugin's default precision "
                "(bf16 on AMX)", apply=apply, load=load, requires=("openvino",), onnx_graph=True, extra=ovc.EXTRA)
