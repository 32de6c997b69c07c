"""torchao int8 dynamic: ``quantize_(Int8DynamicActivationInt8WeightConfig)`` on every Linear, run eager.

Weights are int8 per output row; each call quantizes its activations per token (symmetric), so
no calibration is needed. Unlike torch.ao's ``quantize_dynamic`` (dynamic-int8, kept as the
assignment's method) the weights are torchao tensor subclasses that ``torch.compile`` lowers to
int8 matmuls: ``torchao-int8-dynamic-compiled`` is the same recipe under Inductor.

``set_inductor_config`` is passed False: torchao would otherwise set process-wide Inductor options
on every ``quantize_`` call (GPU tuning flags that never get restored); compiling sets only
freezing, and only around its own calls (methods/_compile.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.models import count_params
from quantrack.methods import _compile, _torchao
from quantrack.methods.base import (Inputs, Method, QuantContext, TorchVariant, load_state_dict_file,
                                    quiet_libraries, weight_payload)

FORMAT = "quantrack-torchao/1"


@dataclass(frozen=True)
class TorchaoInt8DynamicConfig(MethodConfig):
    compile: bool = knob(False, "eager needs no compile time and runs anywhere; torch.compile is what turns the "
                                "int8 tensors into fused int8 matmuls (torchao-int8-dynamic-compiled)")
    symmetric_activations: bool = knob(True, "torchao's default: symmetric per-token int8 activations, so the "
                                             "int8 matmul needs no zero-point correction")
    reduce_range: bool | None = knob(None, "None: 7-bit ranges only where the CPU lacks VNNI "
                                           "(torchao.utils.should_reduce_range), as torchao's docs advise against "
                                           "overflowing AVX2's 16-bit int8 sums")

    # compile is not searched: it is a method name of its own (torchao-int8-dynamic-compiled) in the report.
    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {"symmetric_activations": (True, False), "reduce_range": (None, False)}

    def __post_init__(self) -> None:
        if not isinstance(self.symmetric_activations, bool):
            raise QuantrackError(f"{type(self).__name__}.symmetric_activations must be true or false, "
                                 f"got {self.symmetric_activations!r}")
        from quantrack.methods.pt2e_int8_static import check_flags

        check_flags(self)


def resolved_reduce_range(config: TorchaoInt8DynamicConfig) -> bool:
    from quantrack.methods._pt2e import should_reduce_range

    return should_reduce_range() if config.reduce_range is None else bool(config.reduce_range)


def ao_config(recipe: dict):
    """torchao's config for a recipe (plain values, as saved beside the weights)."""
    tq = _torchao.import_torchao()
    from torchao.quantization.quant_primitives import MappingType

    mapping = MappingType.SYMMETRIC if recipe["symmetric_activations"] else MappingType.ASYMMETRIC
    return tq.Int8DynamicActivationInt8WeightConfig(act_mapping_type=mapping, reduce_range=recipe["reduce_range"],
                                                    set_inductor_config=False)


class TorchaoVariant(TorchVariant):
    """The quantized module (or its compiled wrapper); saved as its tensors, the recipe and the example's shapes."""

    def __init__(self, name: str, module: nn.Module, quantized: nn.Module, params: int, payload: int, *,
                 recipe: dict, example: Inputs, runtime: str, compile_seconds: float | None) -> None:
        super().__init__(name, module, params, payload)
        self.quantized = quantized
        self.recipe = recipe
        self.example_spec = [[[2, *a.shape[1:]], str(a.dtype)] for a in example]
        self.runtime = runtime
        self.compile_seconds = compile_seconds

    def save(self, directory: Path) -> Path:
        path = Path(directory) / f"{self.name}.pt"
        torch.save({"format": FORMAT, "state": self.quantized.state_dict(), "recipe": self.recipe,
                    "example": self.example_spec}, path)
        return path


def build(name: str, float_model: nn.Module, recipe: dict, example: Inputs, *, compile_: bool,
          state: dict | None = None) -> TorchaoVariant:
    quantized = _torchao.quantize_copy(float_model, ao_config(recipe))
    if state is not None:
        with _torchao.quiet():
            quantized.load_state_dict(state, assign=True)
    module, seconds, runtime = quantized.eval(), None, _compile.RUNTIME_EAGER
    if compile_:
        module, seconds = _compile.compile_module(quantized, example)
        runtime = _compile.RUNTIME_COMPILED
    return TorchaoVariant(name, module, quantized, count_params(float_model), weight_payload(float_model, 1),
                          recipe=recipe, example=example, runtime=runtime, compile_seconds=seconds)


def apply_with(ctx: QuantContext, default: TorchaoInt8DynamicConfig) -> TorchaoVariant:
    config = ctx.config_or(default)
    recipe = {"symmetric_activations": config.symmetric_activations, "reduce_range": resolved_reduce_range(config)}
    return build(ctx.method, ctx.model, recipe, ctx.example, compile_=config.compile)


def load(path: Path, fresh: nn.Module, name: str, config: TorchaoInt8DynamicConfig) -> TorchaoVariant:
    """Quantize the fresh model's structure with the saved recipe, then assign the saved int8 tensors
    (torchao registers its tensor subclasses as safe globals: weights_only loading, no code)."""
    import numpy as np

    with quiet_libraries(("torchao",)):
        data = load_state_dict_file(Path(path))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise QuantrackError(f"{Path(path).name} is not a quantrack torchao file ({FORMAT})")
    example = tuple(np.zeros(shape, dtype=dtype) for shape, dtype in data["example"])
    return build(name, fresh, data["recipe"], example, compile_=config.compile, state=data["state"])


def apply(ctx: QuantContext) -> TorchaoVariant:
    return apply_with(ctx, TorchaoInt8DynamicConfig())


METHOD = Method(
    summary="torchao quantize_(Int8DynamicActivationInt8WeightConfig): int8 Linear weights per row, int8 "
            "activations per token at run time, eager",
    apply=apply,
    load=load,
    requires=("torchao",),
    config=TorchaoInt8DynamicConfig,
)
