"""PT2E static int8: ``torch.export`` -> ``prepare_pt2e(X86InductorQuantizer)`` -> calibrate -> ``convert_pt2e``.

The quantizer sees the whole exported graph, so models that torch.ao's eager mode refuses (a
residual ``x + y``, LayerNorm/GELU, a BatchNorm1d after a Linear) quantize: Linear and Conv get
per-channel int8 weights and calibrated uint8 inputs, everything else stays float between
quantize/dequantize pairs. Run eager, the graph is that reference arithmetic (int8 storage, float
compute); ``pt2e-int8-static-compiled`` hands it to Inductor, which fuses each dequantize ->
linear -> quantize into one oneDNN int8 kernel (PyTorch's PT2E x86 tutorial recipe).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.models import count_params
from quantrack.methods import _compile, _pt2e
from quantrack.methods.base import Method, QuantContext

# Why full 8-bit activations on every CPU, VNNI or not. X86InductorQuantizer's own default is
# reduce_range=False; its docstring (and torchao.utils.should_reduce_range) suggest 7 bits "on earlier CPUs
# without VNNI", whose AVX2 int8 dot product (vpmaddubsw) adds u8*s8 pairs into saturating 16-bit sums.
# Measured on MiniLM on an AVX2-only EPYC, calibration on other sentences: 7 bits cost 0.015 of cosine to
# fp32 (eager 0.979 vs 0.994, benchmarks/pt2e_reduce_range.py; compiled 0.978 in the quick-timer run of
# 2026-12-01), while the graph compiled to oneDNN's int8 kernels at 8 bits kept 0.993
# (benchmarks/results/minilm_torch_recipes.md): no saturation loss showed. So 8 bits everywhere; None
# still means torchao's rule (7 bits where the CPU lacks VNNI) for whoever wants it, and the recipe search
# tries both.
REDUCE_RANGE_WHY = ("False: 8-bit activations on every CPU; 7 bits (torchao's advice without VNNI) cost MiniLM "
                    "0.015 of cosine on AVX2 and the compiled 8-bit graph showed no saturation loss (None: "
                    "7 bits where the CPU lacks VNNI, torchao.utils.should_reduce_range)")


@dataclass(frozen=True)
class Pt2eStaticConfig(MethodConfig):
    compile: bool = knob(False, "eager keeps torch.export's reference graph (no compile cost); Inductor with "
                                "freezing is where PT2E's int8 kernels run (pt2e-int8-static-compiled)")
    calibration_rows: int = knob(256, "a few hundred rows settle the histogram observers' ranges (PyTorch's PT2E "
                                      "tutorials calibrate on a few batches); more costs time, not accuracy")
    reduce_range: bool | None = knob(False, REDUCE_RANGE_WHY)

    # compile is not searched: it is a method name of its own (pt2e-int8-static-compiled) in the report.
    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {"calibration_rows": (64, 256, 1024), "reduce_range": (False, True)}

    def __post_init__(self) -> None:
        self._positive_ints("calibration_rows")
        check_flags(self)


def check_flags(config: MethodConfig) -> None:
    """compile a bool, reduce_range a bool or None (auto): one clear error otherwise."""
    if hasattr(config, "compile") and not isinstance(config.compile, bool):
        raise QuantrackError(f"{type(config).__name__}.compile must be true or false, got {config.compile!r}")
    if config.reduce_range not in (None, True, False) or isinstance(config.reduce_range, int) and \
            not isinstance(config.reduce_range, bool):
        raise QuantrackError(f"{type(config).__name__}.reduce_range must be true, false or unset (auto), "
                             f"got {config.reduce_range!r}")


def resolved_reduce_range(config: Pt2eStaticConfig) -> bool:
    return _pt2e.should_reduce_range() if config.reduce_range is None else bool(config.reduce_range)


def apply_with(ctx: QuantContext, default: Pt2eStaticConfig) -> _pt2e.Pt2eVariant:
    """Export, prepare, calibrate on the calibration rows, convert; compiled when the config says so."""
    config = ctx.config_or(default)
    name = ctx.method
    rows = ctx.require_calibration(name)
    apis = _pt2e.apis()
    example = _pt2e.tensors(ctx.example)
    reduce_range = resolved_reduce_range(config)
    graph = _pt2e.export(ctx.float_copy(), example)
    with _pt2e.quiet():
        prepared = apis.prepare(graph, _pt2e.quantizer(apis, qat=False, reduce_range=reduce_range))
    _pt2e.calibrate(prepared, rows, max_rows=config.calibration_rows)
    observers = _pt2e.observer_state(prepared)
    converted = _pt2e.convert(apis, prepared)
    recipe = {"qat": False, "reduce_range": reduce_range}
    return variant(name, ctx.model, converted, observers, example, recipe, compile_=config.compile)


def variant(name: str, float_model: nn.Module, converted, observers, example, recipe, *, compile_: bool
            ) -> _pt2e.Pt2eVariant:
    module, seconds, runtime = converted, None, _compile.RUNTIME_EAGER
    if compile_:
        module, seconds = _compile.compile_module(converted, tuple(t.numpy() for t in example))
        runtime = _compile.RUNTIME_COMPILED
    return _pt2e.Pt2eVariant(name, module, converted, observers, example, count_params(float_model),
                             _pt2e.payload(converted), runtime=runtime, compile_seconds=seconds,
                             recipe=recipe)


def load(path: Path, fresh: nn.Module, name: str, config: MethodConfig) -> _pt2e.Pt2eVariant:
    """The saved graph rebuilt on ``fresh`` (see _pt2e's doc); compiled again when its config compiles
    (pt2e-qat-int8 shares this: its recipe says qat, its config has no compile)."""
    data = _pt2e.read(Path(path))
    recipe = data.get("recipe") or {}
    converted, example = _pt2e.rebuild(_pt2e.apis(), data, fresh, qat=bool(recipe.get("qat")),
                                       reduce_range=bool(recipe.get("reduce_range")))
    return variant(name, fresh, converted, data["observers"], example, recipe,
                   compile_=bool(getattr(config, "compile", False)))


def apply(ctx: QuantContext) -> _pt2e.Pt2eVariant:
    return apply_with(ctx, Pt2eStaticConfig())


METHOD = Method(
    summary="PT2E static int8 (torch.export + X86InductorQuantizer, calibrated), run eager: takes residual, "
            "LayerNorm, GELU and BatchNorm models",
    apply=apply,
    load=load,
    requires=("torchao",),
    config=Pt2eStaticConfig,
)
