"""Choose the variant to ship: the best one within the budget; the fp32 baseline otherwise.

There is always an answer. A variant displaces fp32 only on a difference that was
actually measured: a smaller file for ``prefer=size``, a "faster" verdict (side-by-side
windows against fp32, see timing.py) for ``prefer=latency``. Ties are broken by the other
figure, then by name, so the same measurements always give the same champion.

The budget is in the score's units: accuracy is a share (0.01 = 1 point, shown in points),
a user's metric is shown as it is.
"""

from __future__ import annotations

from quantrack.evaluate.results import VariantResult
from quantrack.evaluate.timing import Verdict
from quantrack.methods import BASELINE

PREFER_CHOICES = ("size", "latency")
_TOLERANCE = 1e-12  # float noise: 343/360 vs 346/360 with a 1-point budget is within it


def budget_text(max_drop: float, score_name: str) -> str:
    """The budget as people say it: '1 point' of accuracy, '0.01' of a metric."""
    if score_name == "accuracy":
        points = round(100 * max_drop, 10)
        return f"{points:g} point" + ("" if points == 1 else "s")
    return f"{max_drop:g} of {score_name}"


def score_text(value: float, score_name: str) -> str:
    return f"{100 * value:.2f}%" if score_name == "accuracy" else f"{value:.4f}"


def choose_champion(variants: list[VariantResult], *, max_drop: float, prefer: str, batch_size: int,
                    score_name: str = "accuracy") -> tuple[str, str]:
    """Return (champion name, one-sentence reason). ``max_drop`` is in the score's units."""
    if prefer not in PREFER_CHOICES:
        raise ValueError(f"prefer must be one of {PREFER_CHOICES}, got {prefer!r}")
    base = next((v for v in variants if v.name == BASELINE), None)
    if base is None or not base.available or base.score is None:
        raise ValueError("choosing a champion needs a measured fp32 baseline")
    budget = budget_text(max_drop, score_name)
    floor = base.score - max_drop
    others = [v for v in variants if v.name != BASELINE]
    usable = [v for v in others if v.available and v.score is not None]
    if not others:
        return BASELINE, "only fp32 was measured, so fp32 is shipped"
    if not usable:
        return BASELINE, "no quantized variant could run, so fp32 is shipped"
    within = [v for v in usable if v.score >= floor - _TOLERANCE]
    if not within:
        best = max(usable, key=lambda v: (v.score, v.name))
        return BASELINE, (f"no variant stays within {budget} of fp32's {score_name} "
                          f"(best: {best.name} at {score_text(best.score, score_name)} vs "
                          f"{score_text(base.score, score_name)})")

    def p50(v: VariantResult) -> float:
        lat = v.latency_at(batch_size)
        return lat.p50_us if lat else float("inf")

    def size(v: VariantResult) -> float:
        return v.file_bytes if v.file_bytes is not None else float("inf")

    def quality(v: VariantResult) -> str:
        return f"{score_name} {score_text(v.score, score_name)} vs {score_text(base.score, score_name)}"

    if prefer == "latency":
        faster = [v for v in within if (lat := v.latency_at(batch_size)) is not None and lat.verdict == Verdict.FASTER]
        if not faster:
            return BASELINE, f"no variant within {budget} of fp32 is measurably faster than fp32 at batch {batch_size}"
        pick = min(faster, key=lambda v: (p50(v), size(v), v.name))
        lat = pick.latency_at(batch_size)
        base_lat = base.latency_at(batch_size)
        speedup = lat.speedup if lat.speedup is not None else (base_lat.p50_us / lat.p50_us if base_lat else None)
        how = f"{speedup:.2f}x" if speedup is not None else f"p50 {lat.p50_us:,.1f} µs"
        return pick.name, f"fastest within {budget} of fp32: {how} at batch {batch_size}, " + quality(pick)
    smaller = [v for v in within if v.file_bytes is not None and base.file_bytes and v.file_bytes < base.file_bytes]
    if not smaller:
        return BASELINE, f"no variant within {budget} of fp32 has a smaller file"
    pick = min(smaller, key=lambda v: (size(v), p50(v), v.name))
    return pick.name, (f"smallest file within {budget} of fp32: {pick.file_bytes:,} B "
                       f"({pick.file_bytes / base.file_bytes:.2f}x of fp32), " + quality(pick))
