"""Shared plumbing of the PT2E methods: quantize the exported graph, not the modules.

``torch.export`` captures the whole forward as one ATen graph, so a residual ``x + y``, a
LayerNorm, a GELU or a BatchNorm1d is just another node: ``X86InductorQuantizer`` annotates the
ops it has int8 kernels for (Linear, Conv, and their fused neighbours) and leaves quantize/
dequantize pairs around them; everything else runs in float. Torch.ao's eager mode, which swaps
modules, cannot take those models (static-int8 and qat-int8 say so and point here).

The APIs live in ``torchao.quantization.pt2e`` (they moved out of ``torch.ao.quantization`` in
torchao 0.10+; torch 2.13 still has the deprecated copies): this module imports torchao's.

What is saved, and why not ``torch.export.save``: ``torch.export.load`` falls back to unpickling
(``weights_only=False``) when a tensor does not load safely, so a crafted ``.pt2`` runs code.
Instead the file holds tensors and plain values only (``torch.load(weights_only=True)``): the
converted graph's tensors (int8 weights, their scales, float biases; the float weights it no
longer uses are stripped first) and the calibration observers' statistics. Loading exports the
fresh model again, prepares it, restores the observers, converts (the same activation scales
come back) and assigns the saved int8 tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from quantrack.errors import first_line
from quantrack.methods.base import (Inputs, MethodUnavailable, TorchVariant, load_state_dict_file, payload_bytes,
                                    quiet_libraries)

FORMAT = "quantrack-pt2e/1"
OBSERVER_PREFIX = "activation_post_process_"  # how prepare_pt2e names its observer modules
_QPARAM_PREFIXES = ("_scale_", "_zero_point_")  # per-channel weight scales: metadata, not payload


@dataclass(frozen=True)
class Apis:
    prepare: Any
    prepare_qat: Any
    convert: Any
    move_to_eval: Any
    allow_train_eval: Any
    quantizer: Any
    config: Any


def quiet():
    """torchao and torch.export log notices (failed optional kernels, pytree, guards): off the terminal."""
    return quiet_libraries(("torchao", "torch.utils._pytree", "torch.export", "torch._export", "torch._dynamo",
                            "torch.fx.experimental.symbolic_shapes"))


def apis() -> Apis:
    with quiet():
        try:
            from torchao.quantization.pt2e import allow_exported_model_train_eval, move_exported_model_to_eval
            from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e, prepare_qat_pt2e
            from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq
        except ImportError as e:
            raise MethodUnavailable(f"torchao.quantization.pt2e is not importable: {first_line(e)}") from None
    return Apis(prepare_pt2e, prepare_qat_pt2e, convert_pt2e, move_exported_model_to_eval,
                allow_exported_model_train_eval, xiq.X86InductorQuantizer,
                xiq.get_default_x86_inductor_quantization_config)


def should_reduce_range() -> bool:
    """torchao's own test: True on a CPU without VNNI (AVX2's int8 dot product saturates 16-bit sums)."""
    try:
        from torchao.utils import should_reduce_range as ao_should

        return bool(ao_should(torch.device("cpu")))
    except ImportError:
        return False


def tensors(example: Inputs) -> tuple[torch.Tensor, ...]:
    out = []
    for a in example:
        t = torch.from_numpy(np.ascontiguousarray(a))
        out.append(t.float() if t.is_floating_point() else t)
    return tuple(out)


def export(model: nn.Module, example: tuple[torch.Tensor, ...]) -> torch.fx.GraphModule:
    """The model's forward as an ATen graph with a dynamic batch axis, dead code removed.

    ``Dim.AUTO`` on axis 0 of every input: compare scores in batches and times batch 1 and N, so
    the graph must take any row count (export specialises what the model fixes, e.g. a sequence
    length). Dead code goes first: an unused output (MiniLM's pooler) would otherwise be
    annotated, observed and kept as float weights.
    """
    if len(example[0]) < 2:
        raise MethodUnavailable("exporting needs an example of at least 2 rows (a batch of 1 is specialised)")
    dynamic = tuple({0: torch.export.Dim.AUTO} for _ in example)
    with quiet():
        try:
            graph = torch.export.export(model.eval(), example, dynamic_shapes=dynamic).module()
        except Exception as e:
            raise MethodUnavailable(f"torch.export could not capture this model: {type(e).__name__}: "
                                    f"{first_line(e)[:200]}") from None
    graph.graph.eliminate_dead_code()
    graph.recompile()
    return graph


def quantizer(apis_: Apis, *, qat: bool, reduce_range: bool) -> Any:
    # X86InductorQuantizer's default: per-channel symmetric int8 weights, per-tensor uint8 activations
    # observed by a histogram (PTQ) or fake-quantized (QAT).
    return apis_.quantizer().set_global(apis_.config(is_qat=qat, reduce_range=reduce_range))


def calibrate(prepared: nn.Module, rows: Inputs, *, max_rows: int, batch_size: int = 32) -> None:
    """Calibration rows through the observers (no labels, no gradients)."""
    n = min(len(rows[0]), max_rows)
    with torch.no_grad(), quiet():
        for lo in range(0, n, batch_size):
            prepared(*tensors(tuple(a[lo:min(lo + batch_size, n)] for a in rows)))


def observer_state(prepared: nn.Module) -> dict[str, torch.Tensor]:
    """The observers' (or fake-quant modules') statistics: what convert turns into scales."""
    return {k: v.detach().clone() for k, v in prepared.state_dict().items() if k.startswith(OBSERVER_PREFIX)}


def convert(apis_: Apis, prepared: nn.Module) -> torch.fx.GraphModule:
    with quiet():
        converted = apis_.convert(prepared)
    strip_unused(converted)
    return converted


def strip_unused(graph: torch.fx.GraphModule) -> None:
    """Drop the tensors the graph no longer reads: convert_pt2e folds each weight into an int8 constant
    and keeps the float original (MiniLM: a 102 MB file instead of 59.5 MB)."""
    used = {n.target for n in graph.graph.nodes if n.op == "get_attr"}
    named = [*graph.named_parameters(remove_duplicate=False), *graph.named_buffers(remove_duplicate=False)]
    for name, _ in named:
        if name in used:
            continue
        owner_name, _, leaf = name.rpartition(".")
        owner = graph.get_submodule(owner_name) if owner_name else graph
        if leaf in owner._parameters or leaf in owner._buffers:
            delattr(owner, leaf)


def payload(converted: nn.Module) -> int:
    """The assignment's formula on what the converted graph stores: elements x bytes of their stored
    type (int8 weights 1, float biases and norms 4), the per-channel scales not counted. A BatchNorm
    folded into the Linear before it is no longer stored, so it counts nothing."""
    return payload_bytes({n: (t.numel(), t.element_size()) for n, t in converted.state_dict().items()
                          if not n.startswith(_QPARAM_PREFIXES)})


class Pt2eVariant(TorchVariant):
    """A PT2E-converted graph (eager, or wrapped by _compile.Compiled); saved as tensors (module doc)."""

    def __init__(self, name: str, module: nn.Module, graph: torch.fx.GraphModule, observers: dict[str, torch.Tensor],
                 example: tuple[torch.Tensor, ...], params: int, payload_bytes_: int, *, runtime: str,
                 compile_seconds: float | None = None, recipe: dict[str, Any] | None = None) -> None:
        # Not TorchVariant.__init__: it calls .eval(), which an exported graph refuses (it is in eval form already).
        self.name, self.module, self.params, self.payload_bytes = name, module, params, payload_bytes_
        self.input_dtype = torch.float32
        self.graph = graph
        self.observers = observers
        self.example_spec = [[list(t.shape), str(t.dtype).removeprefix("torch.")] for t in example]
        self.runtime = runtime
        self.compile_seconds = compile_seconds
        self.recipe = dict(recipe or {})

    def save(self, directory: Path) -> Path:
        path = Path(directory) / f"{self.name}.pt"
        torch.save({"format": FORMAT, "graph": self.graph.state_dict(), "observers": self.observers,
                    "example": self.example_spec, "recipe": self.recipe}, path)
        return path


def read(path: Path) -> dict[str, Any]:
    """The saved file, loaded without unpickling code; anything else than our format is refused."""
    from quantrack.errors import QuantrackError

    data = load_state_dict_file(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise QuantrackError(f"{path.name} is not a quantrack PT2E file ({FORMAT})")
    return data


def zeros_example(spec: list) -> tuple[torch.Tensor, ...]:
    """Inputs of the saved shapes and dtypes (zeros: tracing needs shapes, not the user's rows)."""
    return tuple(torch.zeros(shape, dtype=getattr(torch, dtype)) for shape, dtype in spec)


def rebuild(apis_: Apis, data: dict[str, Any], fresh: nn.Module, *, qat: bool, reduce_range: bool
            ) -> tuple[torch.fx.GraphModule, tuple[torch.Tensor, ...]]:
    """The saved converted graph, from a fresh model of the same architecture (module doc)."""
    example = zeros_example(data["example"])
    graph = export(fresh, example)
    with quiet():
        prepared = (apis_.prepare_qat if qat else apis_.prepare)(graph, quantizer(apis_, qat=qat,
                                                                                   reduce_range=reduce_range))
        missing = set(observer_state(prepared)) - set(data["observers"])
        if missing:
            from quantrack.errors import QuantrackError

            raise QuantrackError(f"the saved PT2E file does not match this model ({len(missing)} observer "
                                 "tensors missing): was it saved for another architecture?")
        prepared.load_state_dict(data["observers"], strict=False)
        if qat:
            apis_.move_to_eval(prepared)
    converted = convert(apis_, prepared)
    converted.load_state_dict(data["graph"], strict=True, assign=True)
    return converted, example
