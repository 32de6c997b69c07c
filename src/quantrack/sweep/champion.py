"""Across trials: rank them, draw the Pareto front, name the one variant to ship.

The budget is measured from the *best* fp32 accuracy of the sweep: a quantized variant of a
weak configuration must not win just because it is close to its own weak baseline. Within the
budget, ``prefer=size`` takes the smallest file and ``prefer=latency`` the lowest p50 at the
whole-test-split batch (every trial's timing ran alone on its node, under the timing gate, so
these medians are comparable). Ties fall to the other figure, then higher accuracy, then name:
the same figures always give the same champion. The best fp32 itself is always within the
budget, so a sweep with one finished trial always has an answer.
"""

from __future__ import annotations

from quantrack.core.budget import Budget
from quantrack.sweep.pareto import MAX, MIN, pareto_front
from quantrack.sweep.results import FINISHED, Candidate, TrialResult

OBJECTIVES = (("accuracy", MAX), ("p50_us", MIN), ("file_bytes", MIN))


def _key(c: Candidate, prefer: str) -> tuple:
    if prefer == "latency":
        return (c.p50_us, c.file_bytes, -c.accuracy, c.key)
    return (c.file_bytes, c.p50_us, -c.accuracy, c.key)


def choose(trials: list[TrialResult], *, budget: Budget) -> tuple[Candidate | None, str, list[str]]:
    """(champion, why, ranking of the finished trials' names, best first). Judged on point estimates:
    trials carry no paired intervals against the best fp32, which is another trial's model."""
    prefer = budget.prefer
    done = [t for t in trials if t.status == FINISHED and t.candidates]
    if not done:
        return None, "no trial finished, so there is no champion", []
    best_fp32 = max((t.fp32_accuracy for t in done if t.fp32_accuracy is not None), default=None)
    if best_fp32 is None:
        return None, "no trial measured fp32, so there is no champion", []
    def best_of(t: TrialResult) -> Candidate | None:
        within = [c for c in t.candidates if budget.within(best_fp32 - c.accuracy)]
        return min(within, key=lambda c: _key(c, prefer)) if within else None

    picks = {t.name: best_of(t) for t in done}
    in_budget = sorted((t for t in done if picks[t.name]), key=lambda t: _key(picks[t.name], prefer))
    out_budget = sorted((t for t in done if not picks[t.name]),
                        key=lambda t: (-max(c.accuracy for c in t.candidates), t.name))
    ranking = [t.name for t in in_budget + out_budget]
    champ = picks[in_budget[0].name]
    figure = (f"p50 {champ.p50_us:,.1f} µs at the whole-test-split batch" if prefer == "latency"
              else f"{champ.file_bytes:,} B file")
    why = (f"{'fastest' if prefer == 'latency' else 'smallest'} of {sum(len(t.candidates) for t in done)} variants "
           f"in {len(done)} trials within {budget.text()} of the best fp32 "
           f"({100 * best_fp32:.2f}%): {figure}, accuracy {100 * champ.accuracy:.2f}%")
    return champ, why, ranking


def front(trials: list[TrialResult]) -> list[Candidate]:
    """The candidates on the accuracy / latency / size Pareto front."""
    cands = [c for t in trials if t.status == FINISHED for c in t.candidates]
    points = [tuple(getattr(c, name) for name, _ in OBJECTIVES) for c in cands]
    return [cands[i] for i in pareto_front(points, [sense for _, sense in OBJECTIVES])]
