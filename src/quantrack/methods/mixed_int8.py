"""mixed-int8: torch.ao dynamic int8 on every Linear but the few that cost the most quality.

The layers are ranked by the drop each causes when quantized alone (``quantrack.sensitivity``);
the most sensitive are kept in float, one more at a time, until the drop is within compare's
``max_drop``. Saved as one file holding the state_dict and the list of float layers (read back
with ``weights_only=True``), so serving rebuilds the same structure from a fresh model.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Collection
from pathlib import Path

import torch
from torch import nn

from quantrack.methods._mixed import MixedConfig, MixedMethod, apply_mixed
from quantrack.methods.base import (MethodUnavailable, QuantContext, TorchVariant, load_state_dict_file,
                                    payload_bytes)
from quantrack.methods.fp32 import fp32_variant
from quantrack.models import count_params

PLAIN = "dynamic-int8"


def quantize_named(model: nn.Module, names: Collection[str]) -> nn.Module:
    """A copy of ``model`` with only the Linear layers named in ``names`` dynamically quantized."""
    try:
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic
    except ImportError as e:  # removed from a future PyTorch
        raise MethodUnavailable(f"torch.ao.quantization.quantize_dynamic is not available: {e}") from None
    copied = copy.deepcopy(model).eval()
    if not names:
        return copied
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation warning fires on every call
        return quantize_dynamic(copied, {n: default_dynamic_qconfig for n in names}, dtype=torch.qint8, inplace=True)


def linear_layers(model: nn.Module) -> dict[str, int]:
    """The layers dynamic-int8 quantizes (Linear), name -> parameter count."""
    return {n: sum(p.numel() for p in m.parameters()) for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def mixed_payload(model: nn.Module, quantized: Collection[str]) -> int:
    """int8 weights for the quantized Linear layers, float32 for every other parameter."""
    modules = dict(model.named_modules())
    int8 = {id(modules[n].weight) for n in quantized}
    return payload_bytes({n: (p.numel(), 1 if id(p) in int8 else 4) for n, p in model.named_parameters()})


class MixedTorchVariant(TorchVariant):
    """A dynamic-int8 model with some Linear layers left in float; saved with that list."""

    def __init__(self, name: str, module: nn.Module, params: int, payload: int, float_layers: list[str]) -> None:
        super().__init__(name, module, params, payload)
        self.float_layers = list(float_layers)

    def save(self, directory: Path) -> Path:
        path = Path(directory) / f"{self.name}.pt"
        torch.save({"float_layers": self.float_layers, "state_dict": self.module.state_dict()}, path)
        return path


class TorchLayers:
    """The Linear layers of a float model, for the sensitivity search."""

    method = PLAIN

    def __init__(self, model: nn.Module, example=None, threads: int = 1) -> None:  # the ONNX layers' signature
        self.model = model.eval()
        self.params = linear_layers(model)
        self.names = list(self.params)
        self.total = count_params(model)

    def build(self, quantized: Collection[str], name: str) -> MixedTorchVariant:
        quantized = [n for n in self.names if n in set(quantized)]
        float_layers = [n for n in self.names if n not in set(quantized)]
        return MixedTorchVariant(name, quantize_named(self.model, quantized), self.total,
                                 mixed_payload(self.model, quantized), float_layers)

    def only(self, layer: str) -> MixedTorchVariant:
        return self.build([layer], f"{PLAIN}:{layer}")

    def mixed(self, float_layers: Collection[str], name: str) -> MixedTorchVariant:
        variant = self.build([n for n in self.names if n not in set(float_layers)], name)
        variant.float_layers = list(dict.fromkeys(float_layers))  # the caller's order: most sensitive first
        return variant


def apply(ctx: QuantContext) -> TorchVariant:
    model = ctx.float_copy()
    return apply_mixed(ctx, TorchLayers(model), fp32_variant(model), ctx.method)


def load(path: Path, fresh: nn.Module, name: str, config: MixedConfig) -> MixedTorchVariant:
    """Quantize the fresh model's Linear layers except the saved float ones, then load the weights."""
    saved = load_state_dict_file(path)
    if not (isinstance(saved, dict) and "float_layers" in saved and "state_dict" in saved):
        raise ValueError(f"{path} is not a {name} file (no float_layers/state_dict)")
    layers = TorchLayers(fresh)
    unknown = [n for n in saved["float_layers"] if n not in layers.params]
    if unknown:
        raise ValueError(f"{path} keeps layers in float that this model does not have: {', '.join(unknown)}")
    variant = layers.mixed(saved["float_layers"], name)
    variant.module.load_state_dict(saved["state_dict"])
    return variant


METHOD = MixedMethod(
    config=MixedConfig,
    summary="dynamic int8 on every Linear layer except the most sensitive ones, kept in float until the drop "
            "is within the budget",
    apply=apply,
    load=load,
    applies_to=("mlp",),  # logreg has one Linear; the CNN's convolutions are not dynamic-int8 layers
)
