"""Shared plumbing of torch.ao's eager-mode static quantization (used by static-int8 and qat-int8).

Eager mode needs explicit QuantStub/DeQuantStub around the float computation. Rather than
change the models, a copy is wrapped, and Linear/Conv layers directly followed by a ReLU in
an ``nn.Sequential`` are fused so the int8 kernels apply the ReLU themselves.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from quantrack.models import count_params
from quantrack.quantize.base import MethodUnavailable, TorchVariant, load_state_dict_file, weight_payload

# x86 is PyTorch's default quantized engine on x86 CPUs: it picks fbgemm or onednn kernels per op.
ENGINE = "x86"
QUANTIZED_KINDS = (nn.Linear, nn.Conv2d)


def ao():
    """torch.ao.quantization, or MethodUnavailable when a future PyTorch has removed it."""
    try:
        import torch.ao.quantization as q
    except ImportError as e:
        raise MethodUnavailable(f"torch.ao.quantization is not available: {e}") from None
    missing = [n for n in ("QuantStub", "DeQuantStub", "prepare", "prepare_qat", "convert", "fuse_modules",
                           "get_default_qconfig", "get_default_qat_qconfig") if not hasattr(q, n)]
    if missing:
        raise MethodUnavailable(f"torch.ao.quantization lacks {', '.join(missing)}")
    if ENGINE not in torch.backends.quantized.supported_engines:
        raise MethodUnavailable(f"quantized engine {ENGINE!r} is not supported by this PyTorch build")
    return q


class Wrapped(nn.Module):
    """quant -> float model -> dequant: the eager-mode boundary of the int8 region."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        q = ao()
        self.quant = q.QuantStub()
        self.model = model
        self.dequant = q.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(self.model(self.quant(x)))


def fusable_pairs(model: nn.Module) -> list[list[str]]:
    """Qualified names of (Linear|Conv2d, ReLU) neighbours inside Sequential containers."""
    pairs = []
    for prefix, mod in model.named_modules():
        if not isinstance(mod, nn.Sequential):
            continue
        children = list(mod.named_children())
        for (n1, m1), (n2, m2) in zip(children, children[1:]):
            if isinstance(m1, QUANTIZED_KINDS) and isinstance(m2, nn.ReLU):
                base = f"{prefix}." if prefix else ""
                pairs.append([base + n1, base + n2])
    return pairs


def prepare(model: nn.Module, *, qat: bool) -> nn.Module:
    """A wrapped, fused copy of ``model`` with observers (PTQ) or fake-quant modules (QAT)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao warns on every call (deprecation, reduce_range)
        return _prepare(model, qat=qat)


def _prepare(model: nn.Module, *, qat: bool) -> nn.Module:
    q = ao()
    # Process-wide on purpose: the converted model's kernels run on the engine it was packed
    # for, so it must stay set while the model is used (x86 is already the default here).
    torch.backends.quantized.engine = ENGINE
    wrapped = Wrapped(copy.deepcopy(model))
    pairs = [[f"model.{a}", f"model.{b}"] for a, b in fusable_pairs(model)]
    if qat:
        wrapped.train()
        if pairs:
            wrapped = q.fuse_modules_qat(wrapped, pairs)
        wrapped.qconfig = q.get_default_qat_qconfig(ENGINE)  # per-channel symmetric int8 weights
        return q.prepare_qat(wrapped)
    wrapped.eval()
    if pairs:
        wrapped = q.fuse_modules(wrapped, pairs)
    wrapped.qconfig = q.get_default_qconfig(ENGINE)  # per-channel weights, histogram-observed activations
    return q.prepare(wrapped)


def convert(prepared: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ao().convert(prepared.eval())


def calibrate(prepared: nn.Module, X: np.ndarray, batch_size: int = 256, max_rows: int = 2048) -> None:
    """Run training rows through the observers (no labels, no gradients)."""
    xt = torch.from_numpy(np.ascontiguousarray(X[:max_rows], dtype=np.float32))
    with torch.inference_mode():
        for lo in range(0, len(xt), batch_size):
            prepared(xt[lo:lo + batch_size])


def payload(model: nn.Module) -> int:
    """int8 weights of Linear and Conv2d layers; float32 biases (as the int8 kernels keep them)."""
    return weight_payload(model, 1, QUANTIZED_KINDS)


def variant(name: str, float_model: nn.Module, quantized: nn.Module) -> TorchVariant:
    return TorchVariant(name, quantized, count_params(float_model), payload(float_model))


def load(name: str, path: Path, fresh: nn.Module, *, qat: bool) -> TorchVariant:
    """Rebuild the converted structure from a fresh model, then load the saved int8 state."""
    quantized = convert(prepare(fresh, qat=qat))
    quantized.load_state_dict(load_state_dict_file(path))
    return variant(name, fresh, quantized)
