"""Choose the variant to ship: the best one within the budget; the fp32 baseline otherwise.

There is always an answer. A variant displaces fp32 only on a difference that was
actually measured: a smaller file for ``prefer=size``, a "faster" verdict (side-by-side
windows against fp32, see timing.py) for ``prefer=latency``. Ties are broken by the other figure,
then by name, so the same measurements always give the same champion; for size, files within
SIZE_TIE (1 %) of the smallest are a tie.

The budget is in the score's units: accuracy is a share (0.01 = 1 point, shown in points),
a user's metric is shown as it is. "Within budget" has two readings, and the champion says which
one let it through:

- ``confident`` (a ``confidence`` is given): the upper end of the variant's paired drop interval
  (``VariantResult.stats``, from stats.paired_stats at that confidence) is within the budget;
- ``point-estimate`` (``confidence=None``): the measured drop alone is within it.

When intervals are asked for and none is within budget although some point estimates are, the
evaluation set is too small to tell: fp32 is shipped, and the reason names those variants with
the rows that would settle them.
"""

from __future__ import annotations

from typing import NamedTuple

from quantrack.core.budget import Budget

from quantrack.core.results import CONFIDENT, POINT_ESTIMATE, SHIPPED_BASELINE, VariantResult, Verdict
from quantrack.methods import BASELINE

# Files within 1 % of the smallest are the same size to whoever ships them: the eager torchao or PT2E
# variant and its compiled twin save the same int8 tensors and differ by a few KB of metadata (58.74 MB vs
# 58.74 MB on MiniLM) while one runs 10x faster. Among such ties the side-by-side speed-up against fp32
# decides (not the p50s, timed minutes apart under different load), then the p50, the size, the name.
SIZE_TIE = 0.01


class Champion(NamedTuple):
    name: str
    reason: str  # one sentence
    rule: str  # CONFIDENT, POINT_ESTIMATE, or SHIPPED_BASELINE when fp32 is shipped because nothing qualified


def score_text(value: float, score_name: str = "accuracy") -> str:
    return f"{100 * value:.2f}%" if score_name == "accuracy" else f"{value:.4f}"


def drop_text(value: float, score_name: str = "accuracy") -> str:
    return f"{100 * value:.2f} points" if score_name == "accuracy" else f"{value:.4f}"


def choose_champion(variants: list[VariantResult], *, budget: Budget, batch_size: int) -> Champion:
    """The champion under ``budget`` (its max_drop in the score's units; its confidence the level every
    variant's ``stats`` were computed at, or None to judge on point estimates alone)."""
    confidence, prefer, score_name = budget.confidence, budget.prefer, budget.score_name
    base = next((v for v in variants if v.name == BASELINE), None)
    if base is None or not base.available or base.score is None:
        raise ValueError("choosing a champion needs a measured fp32 baseline")
    allowed = budget.text()
    others = [v for v in variants if v.name != BASELINE]
    usable = [v for v in others if v.available and v.score is not None]
    if not others:
        return Champion(BASELINE, "only fp32 was measured, so fp32 is shipped", SHIPPED_BASELINE)
    if not usable:
        return Champion(BASELINE, "no quantized variant could run, so fp32 is shipped", SHIPPED_BASELINE)
    on_point = [v for v in usable if budget.within(base.score - v.score)]
    if confidence is None:
        within, rule = on_point, POINT_ESTIMATE
    else:
        missing = [v.name for v in usable if v.stats is None or v.stats.drop_ci is None]
        if missing:
            raise ValueError(f"the confidence rule needs paired stats for every variant; missing: {missing}")
        wrong = [v.name for v in usable if abs(v.stats.confidence - confidence) > 1e-9]
        if wrong:
            raise ValueError(f"stats of {wrong} were computed at another confidence than {confidence}")
        within, rule = [v for v in usable if budget.within(v.stats.drop_ci[1])], CONFIDENT
    if not within:
        if rule == CONFIDENT and on_point:
            return Champion(BASELINE, _too_small_to_tell(on_point, budget),
                            SHIPPED_BASELINE)
        best = max(usable, key=lambda v: (v.score, v.name))
        return Champion(BASELINE, f"no variant stays within {allowed} of fp32's {score_name} "
                                  f"(best: {best.name} at {score_text(best.score, score_name)} vs "
                                  f"{score_text(base.score, score_name)})", SHIPPED_BASELINE)
    shown = f"shown within {allowed} of fp32 at {_pct(confidence)} confidence" if rule == CONFIDENT \
        else f"within {allowed} of fp32"

    def p50(v: VariantResult) -> float:
        lat = v.latency_at(batch_size)
        return lat.p50_us if lat else float("inf")

    def size(v: VariantResult) -> float:
        return v.file_bytes if v.file_bytes is not None else float("inf")

    def quality(v: VariantResult) -> str:
        text = f"{score_name} {score_text(v.score, score_name)} vs {score_text(base.score, score_name)}"
        if rule == CONFIDENT:
            text += f", drop at most {drop_text(v.stats.drop_ci[1], score_name)} ({_pct(confidence)} interval)"
        return text

    if prefer == "latency":
        faster = [v for v in within
                  if (lat := v.latency_at(batch_size)) is not None and lat.verdict == Verdict.FASTER]
        if not faster:
            return Champion(BASELINE, f"no variant {shown} is measurably faster than fp32 at batch {batch_size}",
                            SHIPPED_BASELINE)
        pick = min(faster, key=lambda v: (p50(v), size(v), v.name))
        lat = pick.latency_at(batch_size)
        base_lat = base.latency_at(batch_size)
        speedup = lat.speedup if lat.speedup is not None else (base_lat.p50_us / lat.p50_us if base_lat else None)
        how = f"{speedup:.2f}x" if speedup is not None else f"p50 {lat.p50_us:,.1f} µs"
        return Champion(pick.name, f"fastest {shown}: {how} at batch {batch_size}, " + quality(pick), rule)
    smaller = [v for v in within if v.file_bytes is not None and base.file_bytes and v.file_bytes < base.file_bytes]
    if not smaller:
        return Champion(BASELINE, f"no variant {shown} has a smaller file", SHIPPED_BASELINE)
    def speedup(v: VariantResult) -> float:
        """Side-by-side speed-up against fp32 (the ratio of medians in alternating windows): variants timed
        minutes apart on a shared machine compare by it, not by their absolute p50s."""
        lat, base_lat = v.latency_at(batch_size), base.latency_at(batch_size)
        if lat is None:
            return 0.0
        if lat.speedup is not None:
            return lat.speedup
        return base_lat.p50_us / lat.p50_us if base_lat and lat.p50_us else 0.0

    smallest = min(size(v) for v in smaller)
    tied = [v for v in smaller if size(v) <= smallest * (1 + SIZE_TIE)]
    order = sorted(tied, key=lambda v: (-speedup(v), p50(v), size(v), v.name))
    pick = order[0]
    reason = (f"smallest file {shown}: {pick.file_bytes:,} B ({pick.file_bytes / base.file_bytes:.2f}x of fp32), "
              + quality(pick))
    if len(tied) > 1:
        rest = ", ".join(v.name for v in order[1:])
        reason += (f"; the fastest at batch {batch_size} of the files within {100 * SIZE_TIE:g}% of the smallest "
                   f"(also {rest})")
    return Champion(pick.name, reason, rule)


def _pct(confidence: float | None) -> str:
    return f"{100 * confidence:g}%" if confidence is not None else ""


def _too_small_to_tell(candidates: list[VariantResult], budget: Budget) -> str:
    confidence, score_name = budget.confidence, budget.score_name
    rows = candidates[0].stats.rows
    groups: dict[str, list[str]] = {}  # variants with the same figures (often identical predictions) share a line
    for v in sorted(candidates, key=lambda v: (v.stats.drop, v.name)):
        lo, hi = v.stats.drop_ci
        need = v.stats.rows_to_settle(budget.max_drop)
        settle = f"about {need:,} rows would settle it" if need else "no number of rows settles a drop this close"
        interval = f"interval {drop_text(lo, score_name)} to {drop_text(hi, score_name)}"
        if v.agreement == 1.0:  # no difference to see: only the rows' count keeps the interval wide
            figures = f"every row predicted as fp32 does, {interval}; {settle}"
        elif tuple(v.stats.discordant or ()) == (0, 0):
            figures = f"right on exactly fp32's rows, {interval}; {settle}"
        else:
            figures = (f"drop {drop_text(v.stats.drop, score_name)}, interval {drop_text(lo, score_name)} to "
                       f"{drop_text(hi, score_name)}; {settle}")
        groups.setdefault(figures, []).append(v.name)
    named = [f"{', '.join(names)} ({'each: ' if len(names) > 1 else ''}{figures})" for figures, names in groups.items()]
    return (f"the evaluation set is too small to tell: no variant can be shown within "
            f"{budget.text()} of fp32 at {_pct(confidence)} confidence on {rows:,} rows, so "
            f"fp32 is shipped; within budget on the point estimate alone: " + "; ".join(named))
