"""torchao-int8-dynamic under ``torch.compile`` (Inductor, freezing): the same recipe and file, int8 matmuls.

A name of its own rather than a hidden knob, so a comparison table shows eager and compiled side
by side; the compile seconds are reported apart from the latency (methods/_compile.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from quantrack.core.method_config import knob
from quantrack.methods import torchao_int8_dynamic as dynamic
from quantrack.methods.base import Method, QuantContext

@dataclass(frozen=True)
class TorchaoInt8DynamicCompiledConfig(dynamic.TorchaoInt8DynamicConfig):
    compile: bool = knob(True, "torchao's int8 tensors pay off under torch.compile (its docs benchmark them "
                               "compiled); freezing lets Inductor prepack the int8 weights")


def apply(ctx: QuantContext) -> dynamic.TorchaoVariant:
    return dynamic.apply_with(ctx, TorchaoInt8DynamicCompiledConfig())


METHOD = Method(
    summary="torchao Int8DynamicActivationInt8WeightConfig compiled by Inductor with freezing",
    apply=apply,
    load=dynamic.load,
    requires=("torchao",),
    config=TorchaoInt8DynamicCompiledConfig,
)
