"""PT2E quantization-aware training: ``prepare_qat_pt2e`` on the exported graph, a few epochs with labels, convert.

The route of pt2e-int8-static (so residual, LayerNorm/GELU and BatchNorm models take it, unlike
qat-int8's eager mode), with fake int8 rounding simulated while the float checkpoint is fine-tuned
on the calibration rows and their labels (the run's learning rate, batch size and seed), then
converted to the same int8 graph. Run eager; the file is pt2e-int8-static's format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.methods import _pt2e
from quantrack.methods import pt2e_int8_static as static
from quantrack.methods.base import Method, MethodUnavailable, QuantContext

@dataclass(frozen=True)
class Pt2eQatConfig(MethodConfig):
    epochs: int = knob(3, "a few epochs adapt the weights to int8 rounding: they start from the float optimum "
                          "(PyTorch's QAT tutorials fine-tune briefly, not from scratch)")
    lr: float = knob(0.01, "quantrack's training rate: fine-tuning continues the same SGD (as qat-int8)")
    batch_size: int = knob(32, "the DataLoader habit training uses (as qat-int8)")
    reduce_range: bool | None = knob(False, static.REDUCE_RANGE_WHY)

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {"epochs": (1, 3, 5)}

    def __post_init__(self) -> None:
        import math

        self._positive_ints("epochs", "batch_size")
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise QuantrackError(f"{type(self).__name__}.lr must be a positive number, got {lr!r}")
        static.check_flags(self)


def fine_tune(apis: _pt2e.Apis, prepared: nn.Module, rows, labels: np.ndarray, *, epochs: int, lr: float,
              batch_size: int, seed: int) -> list[float]:
    """Plain SGD with cross-entropy over shuffled mini-batches (as qat-int8); the mean loss per epoch."""
    from torchao.quantization.pt2e import move_exported_model_to_train

    inputs = _pt2e.tensors(rows)
    target = torch.from_numpy(np.ascontiguousarray(labels)).long()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(prepared.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    move_exported_model_to_train(prepared)
    losses = []
    n = len(target)
    with _pt2e.quiet():
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for lo in range(0, n, batch_size):
                idx = order[lo:lo + batch_size]
                if len(idx) < 2:  # a batch of 1 is outside the exported graph's dynamic range (and BatchNorm's)
                    continue
                optimizer.zero_grad(set_to_none=True)
                out = prepared(*(t[idx] for t in inputs))
                loss = loss_fn(out[0] if isinstance(out, (tuple, list)) else out, target[idx])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / n)
    apis.move_to_eval(prepared)
    return losses


def apply(ctx: QuantContext) -> _pt2e.Pt2eVariant:
    config = ctx.config_or(Pt2eQatConfig())
    rows = ctx.require_calibration(ctx.method)
    if ctx.labels is None:
        raise MethodUnavailable(f"{ctx.method} fine-tunes with cross-entropy, so it needs labels: "
                                "pass calibration=(X, y)")
    apis = _pt2e.apis()
    example = _pt2e.tensors(ctx.example)
    reduce_range = _pt2e.should_reduce_range() if config.reduce_range is None else bool(config.reduce_range)
    graph = _pt2e.export(ctx.float_copy(), example)
    with _pt2e.quiet():
        prepared = apis.prepare_qat(graph, _pt2e.quantizer(apis, qat=True, reduce_range=reduce_range))
    fine_tune(apis, prepared, rows, ctx.labels, epochs=config.epochs, lr=float(config.lr),
              batch_size=config.batch_size, seed=ctx.seed)
    observers = _pt2e.observer_state(prepared)
    converted = _pt2e.convert(apis, prepared)
    recipe = {"qat": True, "reduce_range": reduce_range}
    return static.variant(ctx.method, ctx.model, converted, observers, example, recipe, compile_=False)


METHOD = Method(
    summary="PT2E quantization-aware fine-tuning (X86InductorQuantizer, a few epochs with labels), then int8, eager",
    apply=apply,
    load=static.load,
    requires=("torchao",),
    config=Pt2eQatConfig,
)
