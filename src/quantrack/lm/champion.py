"""The champion for a lower-is-better score: the smallest (or fastest) variant whose perplexity
increase over fp32 is within ``max_increase`` (relative: 0.02 = 2 %) by its paired 95 % interval.

"Within" is :meth:`quantrack.core.budget.Budget.within` applied to the upper end of the increase's
interval: the same one rule as the classifier champion, on a score where up is worse. There is
always an answer: fp32, with the reason, when no variant qualifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from quantrack.core.budget import Budget
from quantrack.core.results import CONFIDENT, SHIPPED_BASELINE
from quantrack.core.results import Verdict
from quantrack.lm.methods import BASELINE
from quantrack.lm.results import LMVariantResult

PREFER = ("size", "speed")
SCORE = "perplexity"


class Champion(NamedTuple):
    name: str
    reason: str
    rule: str


def budget_for(max_increase: float, prefer: str, confidence: float = 0.95) -> Budget:
    """The Budget (validated once) for a relative perplexity increase; "speed" is Budget's "latency"."""
    from quantrack.errors import QuantrackError

    if prefer not in PREFER:
        raise QuantrackError(f"prefer must be one of {', '.join(PREFER)}, got {prefer!r}")
    return Budget(max_drop=max_increase, confidence=confidence, prefer="latency" if prefer == "speed" else "size",
                  score_name="perplexity increase")


def pct(x: float) -> str:
    return f"{100 * x:+.1f} %"


def choose(variants: Sequence[LMVariantResult], budget: Budget) -> Champion:
    base = next((v for v in variants if v.name == BASELINE), None)
    if base is None or not base.available or base.score is None:
        raise ValueError("choosing a champion needs a measured fp32 baseline")
    limit = f"{100 * budget.max_drop:g} %"
    usable = [v for v in variants if v.name != BASELINE and v.available and v.stats is not None
              and v.stats.drop_ci is not None]
    if not usable:
        return Champion(BASELINE, "no quantized variant could run, so fp32 is shipped", SHIPPED_BASELINE)
    within = [v for v in usable if budget.within(v.stats.drop_ci[1])]
    if not within:
        close = [v for v in usable if budget.within(v.stats.drop)]
        if close:
            names = ", ".join(f"{v.name} ({pct(v.stats.drop)}, interval up to {pct(v.stats.drop_ci[1])})"
                              for v in sorted(close, key=lambda v: v.stats.drop))
            return Champion(BASELINE, f"too few windows to tell: no variant is shown within {limit} of fp32's "
                                      f"perplexity at {budget.confidence:.0%} confidence on {base.stats.rows} "
                                      f"windows, so fp32 is shipped; within on the point estimate: {names}",
                            SHIPPED_BASELINE)
        best = min(usable, key=lambda v: (v.stats.drop, v.name))
        return Champion(BASELINE, f"no variant stays within {limit} of fp32's perplexity (best: {best.name} "
                                  f"{best.score:.2f} vs {base.score:.2f}, {pct(best.stats.drop)}), so fp32 is shipped",
                        SHIPPED_BASELINE)
    shown = f"perplexity increase shown within {limit} at {budget.confidence:.0%} confidence"

    def quality(v: LMVariantResult) -> str:
        return (f"perplexity {v.score:.2f} vs {base.score:.2f} ({pct(v.stats.drop)}, at most "
                f"{pct(v.stats.drop_ci[1])})")

    if budget.prefer == "latency":
        faster = [v for v in within if v.decode is not None and v.decode.verdict == Verdict.FASTER]
        if not faster:
            return Champion(BASELINE, f"no variant with its {shown} decodes measurably faster than fp32, so fp32 "
                                      "is shipped", SHIPPED_BASELINE)
        pick = min(faster, key=lambda v: (v.decode.p50_us, v.weight_bytes or 0, v.name))
        return Champion(pick.name, f"fastest decode with its {shown}: {pick.tokens_per_s:.1f} tokens/s vs "
                                   f"{base.tokens_per_s:.1f}, " + quality(pick), CONFIDENT)
    smaller = [v for v in within if v.weight_bytes is not None and base.weight_bytes
               and v.weight_bytes < base.weight_bytes]
    if not smaller:
        return Champion(BASELINE, f"no variant with its {shown} holds fewer weight bytes, so fp32 is shipped",
                        SHIPPED_BASELINE)
    pick = min(smaller, key=lambda v: (v.weight_bytes, v.decode.p50_us if v.decode else 0, v.name))
    return Champion(pick.name, f"fewest weight bytes with its {shown}: {pick.weight_bytes / 1e6:,.1f} MB "
                               f"({pick.weight_bytes / base.weight_bytes:.2f}x of fp32), " + quality(pick), CONFIDENT)
