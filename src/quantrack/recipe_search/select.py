"""The champion: chosen on the selection rows, judged on the held-out rows.

The finalists are the best trials on the objective among those within budget on the selection
rows (size: a smaller file than fp32's; latency: a batch-1 "faster" verdict against fp32). Each
is scored on the held-out rows, which no trial saw, best first; the champion is the first whose
paired drop interval there (evaluate/stats.py) is within budget by ``Budget.within``. Its
reported score is the held-out one. When none is, fp32 is shipped with the reason: there is
always an answer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantrack.core.budget import Budget
from quantrack.core.evalset import EvalSet
from quantrack.core.results import CONFIDENT, POINT_ESTIMATE, SHIPPED_BASELINE, VariantResult
from quantrack.core.results import Latency, Verdict
from quantrack.recipe_search.planner import objective_value
from quantrack.recipe_search.recipe import Recipe
from quantrack.recipe_search.trial import OK, Setup, TrialResult, build_variant

DEFAULT_FINALISTS = 3  # the held-out rows judge at most this many: enough to survive one unlucky finalist


@dataclass
class Judgement:
    variants: list[VariantResult]  # fp32 first, then the finalists as judged on the held-out rows
    champion: str
    reason: str
    rule: str
    champion_trial: int | None
    judged: list[dict[str, Any]]  # per finalist: trial id, held-out score, drop, interval, within


def finalists(trials: list[TrialResult], budget: Budget, fp32_file_bytes: int, n: int) -> list[TrialResult]:
    ok = [t for t in trials if t.status == OK and t.within_budget]
    if budget.prefer == "size":
        ok = [t for t in ok if t.file_bytes is not None and t.file_bytes < fp32_file_bytes]
    else:
        ok = [t for t in ok if t.verdict == Verdict.FASTER]
    return sorted(ok, key=lambda t: (objective_value(t, budget.prefer), t.id))[:n]


def judge(setup: Setup, held_out: EvalSet, trials: list[TrialResult], live: dict[int, Any], budget: Budget,
          fp32_latency: Latency, n_finalists: int, say: Callable[[str], None], models_dir: Path | None = None
          ) -> Judgement:
    from quantrack.methods.scoring import Scorer, outputs_in_batches
    from quantrack.core.stats import paired_stats
    from quantrack.methods import BASELINE

    base, _, _ = setup.fp32()
    scorer = Scorer(base, held_out, setup.metric, setup.eval_batch_size)
    base_rows = scorer.row_scores(scorer.base_outputs)
    level = budget.confidence or 0.95
    with tempfile.TemporaryDirectory(prefix="quantrack-fp32-") as d:
        fp32_file = base.save(Path(d)).stat().st_size
    if models_dir is not None:
        base.save(models_dir)
    fp32 = VariantResult(BASELINE, score=scorer.base_score, accuracy=_accuracy(scorer, scorer.base_outputs),
                         params=int(base.params), payload_bytes=int(base.payload_bytes), file_bytes=fp32_file,
                         payload_ratio=1.0, file_ratio=1.0, latency=[fp32_latency],
                         stats=None if base_rows is None else paired_stats(base_rows, confidence=level, seed=setup.seed))
    variants, judged = [fp32], []
    rule = CONFIDENT if budget.confidence is not None and base_rows is not None else POINT_ESTIMATE
    champion = None
    chosen = finalists(trials, budget, fp32_file, n_finalists)
    for t in chosen:
        variant = live.get(t.id)
        if variant is None:
            say(f"rebuilding trial {t.id} {t.label} to score it on the held-out rows")
            variant = build_variant(setup, Recipe.from_dict(t.recipe), f"t{t.id:03d}-{t.method}")
        outputs = outputs_in_batches(variant, held_out, setup.eval_batch_size)
        score = float(scorer.score(outputs))
        rows = scorer.row_scores(outputs)
        stats = None if rows is None or base_rows is None else paired_stats(base_rows, rows, confidence=level,
                                                                            seed=setup.seed)
        drop = scorer.base_score - score
        upper = stats.drop_ci[1] if rule == CONFIDENT and stats is not None else drop
        ok = budget.within(upper)
        artifact = variant.save(models_dir).name if models_dir is not None else None
        name = f"{t.label} [trial {t.id}]"
        variants.append(VariantResult(
            name, score=score, accuracy=_accuracy(scorer, outputs), params=t.params, payload_bytes=t.payload_bytes,
            file_bytes=t.file_bytes, payload_ratio=_ratio(t.payload_bytes, fp32.payload_bytes),
            file_ratio=_ratio(t.file_bytes, fp32_file), artifact=artifact,
            latency=[Latency(**t.latency)] if t.latency else [], seconds_to_quantize=t.seconds_to_quantize,
            float_layers=list(t.float_layers) or None, stats=stats))
        judged.append({"trial": t.id, "label": t.label, "held_out_score": score, "held_out_drop": drop,
                       "held_out_drop_ci": list(stats.drop_ci) if stats is not None else None, "within_budget": ok})
        say(f"held-out rows: trial {t.id} {t.label} {budget.score_name} {score:.4f} (fp32 {scorer.base_score:.4f}), "
            f"{'within' if ok else 'over'} budget")
        if ok:
            champion = (t, name, upper, score)
            break
    if champion is None:
        return Judgement(variants, BASELINE, _no_champion(trials, chosen, budget), SHIPPED_BASELINE, None, judged)
    t, name, upper, score = champion
    how = (f"{t.speedup:.2f}x faster than fp32 at batch 1" if budget.prefer == "latency"
           else f"{t.file_bytes:,} B ({t.file_bytes / fp32_file:.2f}x of fp32's file)")
    shown = (f"drop at most {upper:.4g} at {100 * level:g}% confidence" if rule == CONFIDENT else f"drop {upper:.4g}")
    reason = (f"best on {budget.prefer} within {budget.text()} on the selection rows, and within it on the "
              f"{held_out.rows} held-out rows ({budget.score_name} {score:.4f} vs fp32 {scorer.base_score:.4f}, "
              f"{shown}): {how}")
    return Judgement(variants, name, reason, rule, t.id, judged)


def _no_champion(trials: list[TrialResult], chosen: list[TrialResult], budget: Budget) -> str:
    ok = [t for t in trials if t.status == OK]
    if not ok:
        return "no recipe could run, so fp32 is shipped"
    if chosen:
        return (f"none of the {len(chosen)} finalist(s) chosen on the selection rows stays within {budget.text()} "
                "on the held-out rows, so fp32 is shipped")
    within = [t for t in ok if t.within_budget]
    if within:
        what = "is measurably faster than fp32 at batch 1" if budget.prefer == "latency" else "has a smaller file"
        return f"no recipe within {budget.text()} on the selection rows {what}, so fp32 is shipped"
    best = min(ok, key=lambda t: (t.drop, t.id))
    on_point = [t for t in ok if budget.within(t.drop)]
    if on_point and budget.confidence is not None:
        return (f"no recipe can be shown within {budget.text()} of fp32 at {100 * budget.confidence:g}% confidence "
                f"on the selection rows, so fp32 is shipped; {len(on_point)} are within it on the point estimate "
                f"alone (e.g. {on_point[0].label}, drop {on_point[0].drop:.4g}): more evaluation rows would settle it")
    return (f"no recipe stays within {budget.text()} of fp32 on the selection rows (least drop: {best.label} "
            f"at {best.drop:.4g}), so fp32 is shipped")


def _accuracy(scorer, outputs) -> float | None:
    labels = scorer.evaluation.labels
    if labels is None or outputs.ndim != 2:
        return None
    return float((outputs.argmax(axis=1) == labels).mean())


def _ratio(a: int | None, b: int | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def pareto_ids(trials: list[TrialResult]) -> list[int]:
    """Trials no other beats on selection score, file size and batch-1 p50 at once (sweep/pareto.py)."""
    from quantrack.sweep.pareto import MAX, MIN, pareto_front

    ok = [t for t in trials if t.status == OK and t.score is not None and t.file_bytes is not None and t.p50_us]
    points = [(t.score, t.file_bytes, t.p50_us) for t in ok]
    return [ok[i].id for i in pareto_front(points, (MAX, MIN, MIN))]
