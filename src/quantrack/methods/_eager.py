"""Shared plumbing of torch.ao's eager-mode static quantization (used by static-int8 and qat-int8).

Eager mode needs explicit QuantStub/DeQuantStub around the float computation. Rather than
change the models, a copy is wrapped, and Linear/Conv layers directly followed by a ReLU in
an ``nn.Sequential`` are fused so the int8 kernels apply the ReLU themselves.
"""

from __future__ import annotations

import copy
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from quantrack.models import count_params
from quantrack.methods.base import MethodUnavailable, QuantContext, TorchVariant, load_state_dict_file, weight_payload

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


def float_rows(ctx: QuantContext, name: str) -> np.ndarray:
    """The calibration rows, when the model takes one float input: eager mode puts a single
    QuantStub in front of the model, and a QuantStub cannot quantize token ids."""
    calibration = ctx.require_calibration(name)
    if len(calibration) != 1 or not np.issubdtype(calibration[0].dtype, np.floating):
        kinds = ", ".join(str(a.dtype) for a in calibration)
        raise MethodUnavailable(f"{name} (torch.ao eager mode) wraps one float input in a QuantStub; "
                                f"this model takes {len(calibration)} input(s) of {kinds}")
    return calibration[0]


def calibrate(prepared: nn.Module, X: np.ndarray, batch_size: int = 256, max_rows: int = 2048) -> None:
    """Run training rows through the observers (no labels, no gradients)."""
    xt = torch.from_numpy(np.ascontiguousarray(X[:max_rows], dtype=np.float32))
    with torch.inference_mode():
        for lo in range(0, len(xt), batch_size):
            prepared(xt[lo:lo + batch_size])


def payload(model: nn.Module) -> int:
    """int8 weights of Linear and Conv2d layers; float32 biases (as the int8 kernels keep them)."""
    return weight_payload(model, 1, QUANTIZED_KINDS)


PT2E_HINT = "use pt2e-int8-static, which quantizes the exported graph"


def variant(name: str, float_model: nn.Module, quantized: nn.Module, example: np.ndarray | None = None) -> TorchVariant:
    """The converted model as a Variant, after one call on ``example`` rows: eager mode converts
    modules only, so a module or functional op that gets int8 tensors without an int8 kernel (a
    BatchNorm1d, the ``x + y`` of a residual block) fails only when called; better said now, as the
    reason the method does not apply, naming the module or op that failed."""
    if example is not None:
        running: list[tuple[str, nn.Module]] = []  # the modules entered and not yet left
        hooks = []

        def enter(mod_name: str):
            return lambda m, args: running.append((mod_name, m)) and None

        def leave(m, args, out) -> None:  # returns None: the output stays as it is
            running.pop()

        for mod_name, mod in quantized.named_modules():
            hooks.append(mod.register_forward_pre_hook(enter(mod_name)))
            hooks.append(mod.register_forward_hook(leave))
        try:
            with torch.inference_mode():
                quantized(torch.from_numpy(np.ascontiguousarray(example[:2], dtype=np.float32)))
        except (NotImplementedError, RuntimeError) as e:
            raise MethodUnavailable(f"{name} (torch.ao eager mode) cannot run this model: "
                                    f"{_failure(e, running)}; {PT2E_HINT}") from None
        finally:
            for h in hooks:
                h.remove()
    return TorchVariant(name, quantized, count_params(float_model), payload(float_model))


def _failure(e: Exception, running: list[tuple[str, nn.Module]]) -> str:
    """What got int8 tensors it cannot take: the leaf module that was running, else the functional op."""
    op = re.search(r"run '([\w:.]+)' with arguments from the 'QuantizedCPU'", str(e))
    what = f"the operation {op.group(1)}" if op else str(e).splitlines()[0][:160]
    if running:
        mod_name, mod = running[-1]
        # Wrapped holds the user's model as .model: the user knows the names without it
        mod_name = "" if mod_name == "model" else mod_name.removeprefix("model.")
        if not list(mod.children()):
            return (f"its {type(mod).__name__} module {mod_name!r} receives int8 tensors and has no int8 kernel "
                    f"({what}; eager mode swaps only Linear and Conv modules and fuses only a ReLU after them)")
        where = f"in the forward of {mod_name!r} ({type(mod).__name__})" if mod_name else \
            f"in the model's forward ({type(mod).__name__})"
        return (f"{what} {where} gets int8 tensors and has no int8 kernel (eager mode converts modules, not "
                "functional ops such as a residual x + y)")
    return f"{what} has no int8 kernel"


def load(name: str, path: Path, fresh: nn.Module, *, qat: bool) -> TorchVariant:
    """Rebuild the converted structure from a fresh model, then load the saved int8 state."""
    quantized = convert(prepare(fresh, qat=qat))
    quantized.load_state_dict(load_state_dict_file(path))
    return variant(name, fresh, quantized)
