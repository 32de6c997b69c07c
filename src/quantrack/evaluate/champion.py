"""Choose the variant to ship: the best one within the accuracy budget; fp32 otherwise.

There is always an answer. A variant displaces fp32 only on a difference that was
actually measured: a smaller file for ``prefer=size``, a "faster" verdict (side-by-side
windows against fp32, see measure.py) for ``prefer=latency``. Ties are broken by the other figure, then by name,
so the same measurements always give the same champion.
"""

from __future__ import annotations

from quantrack.config import PREFER_CHOICES
from quantrack.evaluate.timing import FASTER
from quantrack.evaluate.results import VariantResult


def _points(x: float) -> str:
    return f"{x:g} point" + ("" if x == 1 else "s")


def choose_champion(variants: list[VariantResult], *, max_accuracy_drop: float, prefer: str,
                    batch_size: int) -> tuple[str, str]:
    """Return (champion name, one-sentence reason). ``max_accuracy_drop`` is in points."""
    if prefer not in PREFER_CHOICES:
        raise ValueError(f"prefer must be one of {PREFER_CHOICES}, got {prefer!r}")
    base = next((v for v in variants if v.name == "fp32"), None)
    if base is None or not base.available or base.accuracy is None:
        raise ValueError("choosing a champion needs a measured fp32 baseline")
    budget = _points(max_accuracy_drop)
    floor = base.accuracy - max_accuracy_drop / 100.0
    others = [v for v in variants if v.name != "fp32"]
    usable = [v for v in others if v.available and v.accuracy is not None]
    if not others:
        return "fp32", "only fp32 was measured, so fp32 is shipped"
    if not usable:
        return "fp32", "no quantized variant could run, so fp32 is shipped"
    # The tolerance absorbs float noise: 343/360 vs 346/360 with a 1-point budget is within it.
    within = [v for v in usable if v.accuracy >= floor - 1e-12]
    if not within:
        best = max(usable, key=lambda v: (v.accuracy, v.name))
        return "fp32", (f"no variant stays within {budget} of fp32's accuracy "
                        f"(best: {best.name} at {100 * best.accuracy:.2f}% vs {100 * base.accuracy:.2f}%)")

    def p50(v: VariantResult) -> float:
        lat = v.latency_at(batch_size)
        return lat.p50_us if lat else float("inf")

    def size(v: VariantResult) -> float:
        return v.file_bytes if v.file_bytes is not None else float("inf")

    accuracy = f"accuracy {{:.2f}}% vs {100 * base.accuracy:.2f}%"
    if prefer == "latency":
        faster = [v for v in within if (lat := v.latency_at(batch_size)) is not None and lat.verdict == FASTER]
        if not faster:
            return "fp32", f"no variant within {budget} of fp32 is measurably faster than fp32 at batch {batch_size}"
        pick = min(faster, key=lambda v: (p50(v), size(v), v.name))
        lat = pick.latency_at(batch_size)
        base_lat = base.latency_at(batch_size)
        speedup = lat.speedup if lat.speedup is not None else (base_lat.p50_us / lat.p50_us if base_lat else None)
        how = f"{speedup:.2f}x" if speedup is not None else f"p50 {lat.p50_us:,.1f} µs"
        return pick.name, (f"fastest within {budget} of fp32: {how} at batch {batch_size}, "
                           + accuracy.format(100 * pick.accuracy))
    smaller = [v for v in within if v.file_bytes is not None and base.file_bytes and v.file_bytes < base.file_bytes]
    if not smaller:
        return "fp32", f"no variant within {budget} of fp32 has a smaller file"
    pick = min(smaller, key=lambda v: (size(v), p50(v), v.name))
    return pick.name, (f"smallest file within {budget} of fp32: {pick.file_bytes:,} B "
                       f"({pick.file_bytes / base.file_bytes:.2f}x of fp32), " + accuracy.format(100 * pick.accuracy))
