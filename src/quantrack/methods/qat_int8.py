"""Quantization-aware training: fine-tune the float checkpoint with fake int8, then convert.

Starts from the trained weights (a copy), trains a few epochs with the run's learning rate,
batch size and seed while int8 rounding is simulated, then converts to the same int8
structure as static-int8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.methods import _eager
from quantrack.methods.base import Method, MethodUnavailable, QuantContext, TorchVariant

@dataclass(frozen=True)
class QatConfig(MethodConfig):
    epochs: int = knob(3, "a few epochs adapt to the rounding: the weights start from the float optimum")
    lr: float = knob(0.01, "quantrack's training rate: fine-tuning continues the same SGD (`quantrack run` passes --lr)")
    batch_size: int = knob(32, "the DataLoader habit training uses (`quantrack run` passes --batch-size)")

    def __post_init__(self) -> None:
        self._positive_ints("epochs", "batch_size")
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise QuantrackError(f"QatConfig.lr must be a positive number, got {lr!r}")


def fine_tune(prepared: nn.Module, X: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, batch_size: int,
              seed: int) -> list[float]:
    """Plain SGD over shuffled mini-batches, as in training; returns the mean loss per epoch."""
    generator = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    yt = torch.from_numpy(np.ascontiguousarray(y)).long()
    optimizer = torch.optim.SGD(prepared.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    prepared.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for lo in range(0, len(xt), batch_size):
            idx = order[lo:lo + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(prepared(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += float(loss) * len(idx)
        losses.append(total / len(xt))
    return losses


def apply(ctx: QuantContext) -> TorchVariant:
    config = ctx.config_or(QatConfig())
    rows = _eager.float_rows(ctx, ctx.method)
    if ctx.labels is None:
        raise MethodUnavailable(f"{ctx.method} fine-tunes with cross-entropy, so it needs labels: pass calibration=(X, y)")
    prepared = _eager.prepare(ctx.model, qat=True)  # its own copy: ctx.model keeps its weights
    fine_tune(prepared, rows, ctx.labels, epochs=config.epochs, lr=float(config.lr), batch_size=config.batch_size,
              seed=ctx.seed)
    return _eager.variant(ctx.method, ctx.model, _eager.convert(prepared), rows)


def load(path: Path, fresh: nn.Module, name: str, config: QatConfig) -> TorchVariant:
    return _eager.load(name, path, fresh, qat=True)


METHOD = Method(
    config=QatConfig,
    summary=f"torch.ao quantization-aware fine-tuning ({QatConfig.epochs} epochs from the float checkpoint), then int8",
    apply=apply,
    load=load,
)
