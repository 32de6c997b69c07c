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

import numpy as np

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
    greedy_evaluations: int = 0  # the mixed variant's search, on all the rows it chooses on
    seconds: float = 0.0
    rows: int = 0  # rows each layer was scored on
    workers: int = 1
    scored_on: str = ""  # "calibration" when a mixed method chose on it; "": the rows its caller gave

    def cost(self) -> dict[str, Any]:
        cost = {"evaluations": self.evaluations, "greedy_evaluations": self.greedy_evaluations, "seconds": round(self.seconds, 2), "rows": self.rows,
                "workers": self.workers, "layers": len(self)}
        return {**cost, "scored_on": self.scored_on} if self.scored_on else cost


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
    """The rows the search chooses on, and their score. Never the rows that judge the variant.

    Inside ``compare`` (ctx.search): the calibration rows that are not evaluation rows, scored with
    compare's metric when given (by its contract a function of (outputs, fp32_outputs), so it means
    the same on any rows), else accuracy with the calibration labels when given (compare's own
    score), else agreement of argmax with fp32 (its drop bounds the accuracy drop from above: a row
    can only lose accuracy where the prediction changed). No such rows: unavailable, naming
    ``calibration=``, as mixed-blocks does for LMs; choosing on the evaluated rows would flatter the
    very score the champion rule then reads. Without compare (``quantrack.quantize``): the
    calibration rows, with their labels when given."""
    if ctx.calibration is None:
        if ctx.search is not None:
            raise MethodUnavailable(
                f"{ctx.method} chooses its float layers on calibration rows and compare was given none: pass "
                "calibration= rows other than eval_data (choosing on the evaluated rows would flatter its score)")
        raise MethodUnavailable("needs rows to measure each layer's cost on: pass eval data or calibration")
    rows = EvalSet(tuple(ctx.calibration), ctx.labels)
    if ctx.search is None:
        return rows, None
    fresh = rows_not_in(rows, ctx.search.evaluation)
    if fresh.rows == 0:
        raise MethodUnavailable(
            f"{ctx.method} chooses its float layers on calibration rows, but all {rows.rows} calibration rows are "
            "also eval_data rows: pass calibration= rows other than eval_data (choosing on the evaluated rows "
            "would flatter its score)")
    return fresh, ctx.search.metric


def _row_keys(evaluation: EvalSet) -> list[bytes]:
    """One byte string per row, across every input (floats widened so float32 and float64 copies
    of a row compare equal)."""
    flat = [np.ascontiguousarray(a.astype(np.float64) if a.dtype.kind == "f" else a).reshape(len(a), -1)
            for a in evaluation.inputs]
    return [b"".join(f[i].tobytes() for f in flat) for i in range(evaluation.rows)]


def rows_not_in(rows: EvalSet, evaluation: EvalSet) -> EvalSet:
    """``rows`` without any row that is also one of ``evaluation``'s (the same inputs, exactly)."""
    if [a.shape[1:] for a in rows.inputs] != [a.shape[1:] for a in evaluation.inputs]:
        return rows  # rows of another shape (text padded to another length) cannot be the same rows
    judged = set(_row_keys(evaluation))
    keep = np.array([k not in judged for k in _row_keys(rows)], dtype=bool)
    return rows if keep.all() else rows.take(np.flatnonzero(keep))


def require_layers(layers: Layers, name: str) -> None:
    if len(layers.names) < 2:
        raise MethodUnavailable(
            f"{name} does not apply: the model has {len(layers.names)} layer(s) {layers.method} quantizes "
            f"({', '.join(layers.names) or 'none'}); choosing which to keep in float needs at least two")


def apply_mixed(ctx: QuantContext, layers: Layers, fp32: Variant, name: str) -> Variant:
    """The mixed variant for ``ctx``: sensitivity table (to ctx.search.sink when compare collects
    it), then the greedy choice, both on the rows ``evaluation_of`` gives (never compare's evaluation
    rows). The variant records ``float_layers`` and its table."""
    require_layers(layers, name)
    config = ctx.config_or(MixedConfig())
    evaluation, metric = evaluation_of(ctx)
    batch = ctx.search.eval_batch_size if ctx.search is not None else 256
    full = Scorer(fp32, evaluation, metric, batch)
    rows = ctx.search.sensitivity_rows if ctx.search is not None else None
    part = full if rows is None or rows >= evaluation.rows else Scorer(fp32, subset(evaluation, rows, ctx.seed),
                                                                        metric, batch)
    table = sensitivity(layers, part, workers=config.workers)
    table.scored_on = "calibration"  # compare's calibration rows less its evaluation rows, or quantize's
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
