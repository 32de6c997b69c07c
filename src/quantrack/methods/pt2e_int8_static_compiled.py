"""pt2e-int8-static under ``torch.compile`` (Inductor, freezing): the same recipe and file, its int8 kernels.

A name of its own rather than a hidden knob, so a comparison table shows eager and compiled side
by side; the compile seconds are reported apart from the latency (methods/_compile.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from quantrack.core.method_config import knob
from quantrack.methods import pt2e_int8_static as static
from quantrack.methods._pt2e import Pt2eVariant
from quantrack.methods.base import Method, QuantContext

@dataclass(frozen=True)
class Pt2eStaticCompiledConfig(static.Pt2eStaticConfig):
    compile: bool = knob(True, "Inductor with freezing fuses dequantize -> linear -> quantize into oneDNN int8 "
                               "kernels (PyTorch's PT2E x86 recipe); its seconds are reported as compile time")
    # Unlike the eager graph (reference ops in float, nothing saturates), the compiled one runs oneDNN's int8
    # kernels, whose AVX2 path without VNNI adds u8*s8 pairs into saturating 16-bit sums: at 8 bits the
    # compiled MLP of tests/methods/test_pt2e.py strays up to 0.25 from its eager twin on this AVX2 EPYC,
    # at 7 bits it matches. So the compiled recipe keeps torchao's rule.
    reduce_range: bool | None = knob(None, "None: 7-bit activations where the CPU lacks VNNI "
                                           "(torchao.utils.should_reduce_range), whose int8 kernels saturate "
                                           "16-bit sums at 8 bits; 8 bits where VNNI is present")


def apply(ctx: QuantContext) -> Pt2eVariant:
    return static.apply_with(ctx, Pt2eStaticCompiledConfig())


METHOD = Method(
    summary="PT2E static int8 (X86InductorQuantizer, calibrated) compiled by Inductor with freezing",
    apply=apply,
    load=static.load,
    requires=("torchao",),
    config=Pt2eStaticCompiledConfig,
)
