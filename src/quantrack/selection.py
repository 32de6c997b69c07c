"""Choose the variant to ship: the best one within the accuracy budget; fp32 otherwise.

There is always an answer. A variant displaces fp32 only on a difference that was
actually measured: a smaller file for ``prefer=size``, a "faster" verdict (interquartile
ranges apart) for ``prefer=latency``.
"""

from __future__ import annotations

from quantrack.results import VariantResult


def choose_champion(variants: list[VariantResult], *, max_accuracy_drop: float, prefer: str,
                    batch_size: int) -> tuple[str, str]:
    """Return (champion name, one-sentence reason). ``max_accuracy_drop`` is in points."""
    base = next(v for v in variants if v.name == "fp32")
    floor = (base.accuracy or 0.0) - max_accuracy_drop / 100.0
    usable = [v for v in variants if v.name != "fp32" and v.available and v.accuracy is not None]
    within = [v for v in usable if v.accuracy >= floor - 1e-12]
    if not usable:
        return "fp32", "no quantized variant could run, so fp32 is shipped"
    if not within:
        best = max(usable, key=lambda v: v.accuracy)
        return "fp32", (f"no variant stays within {max_accuracy_drop:g} points of fp32's accuracy "
                        f"(best: {best.name} at {100 * best.accuracy:.2f}% vs {100 * base.accuracy:.2f}%)")

    def p50(v: VariantResult) -> float:
        lat = v.latency_at(batch_size)
        return lat.p50_us if lat else float("inf")

    if prefer == "latency":
        faster = [v for v in within if (lat := v.latency_at(batch_size)) and lat.verdict == "faster"]
        if not faster:
            return "fp32", (f"no variant within {max_accuracy_drop:g} points is measurably faster than fp32 "
                            f"at batch {batch_size}")
        pick = min(faster, key=lambda v: (p50(v), v.file_bytes or 0))
        lat = pick.latency_at(batch_size)
        return pick.name, (f"fastest within {max_accuracy_drop:g} points of fp32: {lat.speedup:.2f}x at batch "
                           f"{batch_size}, accuracy {100 * pick.accuracy:.2f}% vs {100 * base.accuracy:.2f}%")
    smaller = [v for v in within if v.file_bytes is not None and base.file_bytes and v.file_bytes < base.file_bytes]
    if not smaller:
        return "fp32", f"no variant within {max_accuracy_drop:g} points of fp32 has a smaller file"
    pick = min(smaller, key=lambda v: (v.file_bytes, p50(v)))
    return pick.name, (f"smallest file within {max_accuracy_drop:g} points of fp32: {pick.file_bytes} B "
                       f"({pick.file_ratio:.2f}x of fp32), accuracy {100 * pick.accuracy:.2f}% "
                       f"vs {100 * base.accuracy:.2f}%")
