"""How far a variant's score falls below fp32's on an evaluation set: the quantity the
per-layer sensitivity search ranks layers by and the mixed-precision methods hold to a budget.

The score is the one ``compare`` uses: the user's ``metric(outputs, fp32_outputs)`` when given,
else accuracy against the labels, else (no labels, no metric: ``quantrack.quantize``) the share
of rows predicted like fp32. The drop is fp32's score minus the variant's, in the score's units.
Per-row outputs are kept in ``Scorer.base_outputs`` so a paired interval can be added per layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from quantrack.errors import QuantrackError
from quantrack.core.evalset import EvalSet

Metric = Callable[[np.ndarray, np.ndarray], float]


def outputs_in_batches(variant: Any, evaluation: EvalSet, batch_size: int) -> np.ndarray:
    """The whole evaluation set through ``variant``, ``batch_size`` rows per call."""
    parts = [np.asarray(variant.outputs(evaluation.take(slice(lo, lo + batch_size)).inputs), dtype=np.float32)
             for lo in range(0, evaluation.rows, batch_size)]
    return np.concatenate(parts, axis=0)


class Scorer:
    """Scores variants against the fp32 variant's outputs on one evaluation set."""

    def __init__(self, fp32: Any, evaluation: EvalSet, metric: Metric | None = None, batch_size: int = 256) -> None:
        self.evaluation = evaluation
        self.metric = metric
        self.batch_size = batch_size
        self.base_outputs = outputs_in_batches(fp32, evaluation, batch_size)
        if metric is None and not self._is_classifier(self.base_outputs):
            raise QuantrackError(f"the model's output has shape {self.base_outputs.shape}, not (rows, classes): "
                                 "pass a metric= to score it")
        self.base_score = self.score(self.base_outputs)

    @staticmethod
    def _is_classifier(outputs: np.ndarray) -> bool:
        return outputs.ndim == 2 and outputs.shape[1] > 1

    def score(self, outputs: np.ndarray) -> float:
        if self.metric is not None:
            return float(self.metric(outputs, self.base_outputs))
        pred = outputs.argmax(axis=1)
        if self.evaluation.labels is not None:
            return float(np.mean(pred == self.evaluation.labels))
        return float(np.mean(pred == self.base_outputs.argmax(axis=1)))

    def drop(self, variant: Any) -> float:
        """fp32's score minus the variant's (positive: the variant is worse)."""
        return self.base_score - self.score(outputs_in_batches(variant, self.evaluation, self.batch_size))

    def row_scores(self, outputs: np.ndarray) -> np.ndarray | None:
        """Per-row figures for a paired interval, as ``compare`` computes them: correctness with
        labels; the metric row by row when their mean is the metric (mean cosine); else None."""
        if self.metric is None:
            return None if self.evaluation.labels is None else outputs.argmax(axis=1) == self.evaluation.labels
        per_row = np.array([self.metric(outputs[i:i + 1], self.base_outputs[i:i + 1]) for i in range(len(outputs))],
                           dtype=np.float64)
        whole = float(self.metric(outputs, self.base_outputs))
        if not np.isfinite(per_row).all() or abs(per_row.mean() - whole) > 1e-6 * max(1.0, abs(whole)):
            return None
        return per_row

    def drop_with_interval(self, variant: Any, confidence: float = 0.95,
                           seed: int = 0) -> tuple[float, list[float] | None]:
        """The drop, and its paired interval against fp32 on the same rows (core/stats.py) where
        the score is a mean over rows."""
        outputs = outputs_in_batches(variant, self.evaluation, self.batch_size)
        drop = self.base_score - self.score(outputs)
        rows, base_rows = self.row_scores(outputs), self.row_scores(self.base_outputs)
        if rows is None or base_rows is None:
            return drop, None
        from quantrack.core.stats import paired_stats

        ci = paired_stats(base_rows, rows, confidence=confidence, seed=seed).drop_ci
        return drop, None if ci is None else [float(ci[0]), float(ci[1])]


def subset(evaluation: EvalSet, rows: int | None, seed: int = 0) -> EvalSet:
    """``rows`` rows drawn at random (seeded, kept in order), or all of them: a sorted file's first
    rows would often be one class."""
    if rows is not None and not (isinstance(rows, int) and not isinstance(rows, bool) and rows >= 1):
        raise QuantrackError(f"sensitivity_rows must be a positive integer, got {rows!r}")
    if rows is None or rows >= evaluation.rows:
        return evaluation
    index = np.sort(np.random.default_rng(seed).choice(evaluation.rows, size=rows, replace=False))
    return evaluation.take(index)
