"""The per-layer sensitivity search and the greedy mixed-precision choice, shared by
mixed-int8 (torch.ao) and onnx-mixed-int8 (ONNX Runtime) and by ``quantrack.sensitivity``.

A ``Layers`` object knows one quantization method's quantizable layers and builds a variant with
a chosen set of them left in float. The search quantizes each layer alone and records the drop
(one evaluation per layer); the mixed variant starts from every layer quantized and keeps the
most sensitive ones in float, one more at a time, until the drop fits the budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from quantrack.core.budget import Budget
from quantrack.core.evalset import EvalSet
from quantrack.core.method_config import MethodConfig, knob
from quantrack.methods.base import Method, MethodUnavailable, QuantContext, Variant
from quantrack.methods.scoring import Scorer, subset


@dataclass(frozen=True)
class MixedConfig(MethodConfig):
    """The knobs of both mixed-precision methods (the budget they fit is compare's, not a knob)."""

    workers: int = knob(1, "layers scored at once, in threads: one keeps timings of the other variants undisturbed")

    def __post_init__(self) -> None:
        self._positive_ints("workers")



class Layers(Protocol):
    method: str  # the plain method whose layers these are ("dynamic-int8", "onnx-int8-dynamic")
    names: list[str]  # quantizable layers, as model.named_modules() names them
    params: dict[str, int]

    def only(self, layer: str) -> Variant:
        """Everything float except ``layer``."""

    def mixed(self, float_layers: Collection[str], name: str) -> Variant:
        """The plain method's variant with ``float_layers`` left in float."""


class Table(list):
    """Sensitivity rows, largest drop first, with what the search cost."""

    method: str = ""
    evaluations: int = 0  # one per layer, on ``rows`` rows
    greedy_evaluations: int = 0  # the mixed variant's search, on the whole evaluation set
    seconds: float = 0.0
    rows: int = 0  # evaluation rows each layer was scored on
    workers: int = 1

    def cost(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "greedy_evaluations": self.greedy_evaluations, "seconds": round(self.seconds, 2), "rows": self.rows,
                "workers": self.workers, "layers": len(self)}


def sensitivity(layers: Layers, scorer: Scorer, workers: int = 1) -> Table:
    """Each layer quantized alone and scored: one evaluation per layer, ``workers`` at a time
    (threads: torch and ONNX Runtime release the GIL while they compute)."""
    started = time.perf_counter()

    def one(name: str) -> dict[str, Any]:
        drop, interval = scorer.drop_with_interval(layers.only(name))
        return {"layer": name, "params": layers.params[name], "drop": drop, "kept_float": False,
                "drop_ci": interval}  # paired 95 % interval against fp32; None when the score is no mean over rows

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(one, layers.names))
    else:
        rows = [one(n) for n in layers.names]
    table = Table(sorted(rows, key=lambda r: r["drop"], reverse=True))
    table.method, table.evaluations, table.rows, table.workers = layers.method, len(rows), scorer.evaluation.rows, workers
    table.seconds = time.perf_counter() - started
    return table


@dataclass
class Choice:
    variant: Variant
    float_layers: list[str]
    drop: float
    evaluations: int


def greedy(layers: Layers, table: Sequence[dict[str, Any]], scorer: Scorer, budget: Budget, name: str) -> Choice:
    """Keep the 0, 1, 2, ... most sensitive layers in float until the drop is within ``budget``.
    Stops at every layer but one: with all in float it is no longer a quantized model."""
    order = [r["layer"] for r in table]
    drop = float("nan")
    for k in range(len(order)):
        variant = layers.mixed(order[:k], name)
        drop = scorer.drop(variant)
        if budget.within(drop):
            return Choice(variant, order[:k], drop, k + 1)
    raise MethodUnavailable(
        f"{name}: even with {len(order) - 1} of {len(order)} {layers.method} layers kept in float the drop is "
        f"{drop:.4g}, over the budget {budget.max_drop:g}")


def evaluation_of(ctx: QuantContext) -> tuple[EvalSet, Callable | None]:
    """What the search scores on: compare's evaluation set and metric (ctx.search), else the
    calibration rows (with their labels when given, else agreement with fp32)."""
    if ctx.search is not None:
        return ctx.search.evaluation, ctx.search.metric
    if ctx.calibration is None:
        raise MethodUnavailable("needs rows to measure each layer's cost on: pass eval data or calibration")
    return EvalSet(tuple(ctx.calibration), ctx.labels), None


def require_layers(layers: Layers, name: str) -> None:
    if len(layers.names) < 2:
        raise MethodUnavailable(
            f"{name} does not apply: the model has {len(layers.names)} layer(s) {layers.method} quantizes "
            f"({', '.join(layers.names) or 'none'}); choosing which to keep in float needs at least two")


def apply_mixed(ctx: QuantContext, layers: Layers, fp32: Variant, name: str) -> Variant:
    """The mixed variant for ``ctx``: sensitivity table (to ctx.search.sink when compare collects
    it), then the greedy choice. The variant records ``float_layers`` and its table."""
    require_layers(layers, name)
    config = ctx.config_or(MixedConfig())
    evaluation, metric = evaluation_of(ctx)
    batch = ctx.search.eval_batch_size if ctx.search is not None else 256
    full = Scorer(fp32, evaluation, metric, batch)
    rows = ctx.search.sensitivity_rows if ctx.search is not None else None
    part = full if rows is None or rows >= evaluation.rows else Scorer(fp32, subset(evaluation, rows, ctx.seed),
                                                                        metric, batch)
    table = sensitivity(layers, part, workers=config.workers)
    if ctx.search is not None:
        ctx.search.sink[layers.method] = table  # before the greedy step: the table is reported even when it fails
    started = time.perf_counter()
    choice = greedy(layers, table, full, ctx.budget or Budget(), name)
    table.seconds += time.perf_counter() - started
    table.greedy_evaluations = choice.evaluations
    kept = set(choice.float_layers)
    for r in table:
        r["kept_float"] = r["layer"] in kept
    choice.variant.sensitivity = table
    return choice.variant


class MixedMethod(Method):
    """Says *why* a quantrack model kind does not apply: it has a single quantizable layer."""

    def unavailable_reason(self, model_kind: str | None = None) -> str | None:
        if model_kind in ("logreg", "cnn") and model_kind not in self.applies_to:
            return (f"does not apply to --model {model_kind}: it has a single layer this method quantizes, so "
                    "there is no choice of layers to keep in float")
        return super().unavailable_reason(model_kind)
