"""Perplexity over fixed windows, its bootstrap intervals, and next-token agreement with fp32.

Per window (corpus.py): the summed negative log-likelihood of tokens 2..context (float32
log-softmax of the model's logits, whatever the variant's dtype) and the top-1 next-token
prediction at each of those positions. Perplexity is token-weighted: ``exp(sum NLL / tokens)``.

Intervals: a bootstrap over windows (windows, not tokens, are the units resampled: tokens inside
one window are not independent), seeded, :data:`RESAMPLES` resamples, percentile intervals. The
increase of a variant is relative, ``ppl_variant / ppl_fp32 - 1``, computed on the *same*
resampled windows for both (paired), so the interval reflects how consistently the variant is
worse, not how hard the windows are. With few windows the interval is coarse; the report shows
the window count beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quantrack.core.stats import PairedStats

RESAMPLES = 2000  # as evaluate/stats.py: Monte Carlo error well below the sampling error at 95 %
SEED = 0
TEST = f"paired bootstrap over windows ({RESAMPLES} resamples)"


@dataclass(frozen=True)
class WindowScores:
    nll: np.ndarray  # float64 [windows]: summed NLL of the scored tokens
    tokens: np.ndarray  # int64 [windows]: tokens scored
    top1: np.ndarray  # int32 [windows, context - 1]: argmax next-token prediction

    @property
    def perplexity(self) -> float:
        return float(np.exp(self.nll.sum() / self.tokens.sum()))


def score_windows(model, ids: np.ndarray) -> WindowScores:
    """One forward per window (batch 1: a 512-token window's logits are already ~100 MB)."""
    import torch

    nll, top1 = [], []
    with torch.inference_mode():
        for row in ids:
            x = torch.from_numpy(np.ascontiguousarray(row))[None]
            logits = model(input_ids=x).logits[0, :-1].float()
            target = x[0, 1:]
            logp = torch.log_softmax(logits, dim=-1)
            nll.append(float(-logp.gather(1, target[:, None]).sum()))
            top1.append(logits.argmax(dim=-1).to(torch.int32).numpy())
    return WindowScores(np.asarray(nll, dtype=np.float64), np.full(len(ids), ids.shape[1] - 1, dtype=np.int64),
                        np.stack(top1))


def agreement(scores: WindowScores, base: WindowScores) -> float:
    """Share of scored positions where the variant's top-1 next token is fp32's."""
    return float(np.mean(scores.top1 == base.top1))


def _resampled(scores: WindowScores, idx: np.ndarray) -> np.ndarray:
    return np.exp(scores.nll[idx].sum(axis=1) / scores.tokens[idx].sum(axis=1))


def perplexity_stats(base: WindowScores, variant: WindowScores | None = None, *, confidence: float = 0.95,
                     resamples: int = RESAMPLES, seed: int = SEED) -> PairedStats:
    """The variant's perplexity with its interval and, against fp32 on the same windows, the relative
    increase with its paired interval (``drop``/``drop_ci`` in PairedStats: positive is worse).
    Without ``variant``: fp32's own perplexity and interval."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    n = len(base.nll)
    if n == 0 or (variant is not None and len(variant.nll) != n):
        raise ValueError("paired perplexity needs the same, non-empty windows for both")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    alpha = (1 - confidence) / 2
    base_b = _resampled(base, idx)
    target = base if variant is None else variant
    var_b = base_b if variant is None else _resampled(variant, idx)
    score_ci = tuple(float(q) for q in np.quantile(var_b, [alpha, 1 - alpha]))
    if variant is None:
        return PairedStats(n, confidence, base.perplexity, score_ci)
    inc_b = var_b / base_b - 1
    increase = target.perplexity / base.perplexity - 1
    inc_ci = tuple(float(q) for q in np.quantile(inc_b, [alpha, 1 - alpha]))
    # Two-sided: how often a resampled increase, re-centred on "no change", is as far out as ours.
    p = (1 + np.count_nonzero(np.abs(inc_b - increase) >= abs(increase) - 1e-15)) / (resamples + 1) if increase \
        else 1.0
    return PairedStats(n, confidence, target.perplexity, score_ci, drop=float(increase), drop_ci=inc_ci,
                       p_value=float(min(1.0, p)), test=TEST)
