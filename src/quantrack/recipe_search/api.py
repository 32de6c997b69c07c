"""``quantrack.search``: the recipe that is best on your objective and still within your budget,
found by trying each method's knobs and per-layer float fallback, judged on rows no trial saw.

    report = quantrack.search(model, calibration=X_cal, eval_data=(X, y), max_drop=0.01,
                              objective="latency", time_budget_s=600, cache="search-cache")
    report.champion, report.search["trials"], report.save("out")

Every argument is checked before anything heavy runs (a mistake is one clear QuantrackError,
nothing half done). The evaluation rows are split into selection rows (every trial scored there)
and held-out rows (only the finalists); see split.py, engine.py, select.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from quantrack.core.budget import Budget
from quantrack.errors import QuantrackError
from quantrack.report.document import Report
from quantrack.recipe_search.split import DEFAULT_HELD_OUT

OBJECTIVES = ("latency", "size")
DEFAULT_TIME_BUDGET_S = 900.0  # 15 minutes: a transformer's every default plus a few dozen variants on 2 cores
DEFAULT_MAX_TRIALS = 200  # a safety net; the time budget is what usually stops a search


class _Silent:
    def stage(self, text: str) -> None:
        pass

    def notice(self, text: str) -> None:
        pass


def search(
    model: Any,
    calibration: Any = None,
    eval_data: Any = None,
    *,
    metric: Callable | None = None,
    metric_name: str | None = None,
    max_drop: float,
    objective: str = "latency",
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    max_trials: int = DEFAULT_MAX_TRIALS,
    methods: str | Sequence[str] = "all",
    workers: int = 1,
    cache: str | Path | None = None,
    tracking: bool | str | None = None,
    out: str | Path | None = None,
    ray_address: str | None = None,
    seed: int = 0,
    confidence: float | None = 0.95,
    held_out: float = DEFAULT_HELD_OUT,
    finalists: int | None = None,
    threads: int = 1,
    eval_batch_size: int = 256,
    latency_budget_s: float = 0.3,
    experiment: str = "quantrack",
    model_kind: str | None = None,
    fine_tune: dict[str, Any] | None = None,
    progress: Any = None,
) -> Report:
    """Search the registered methods' recipes for the best on ``objective`` within ``max_drop``.

    model, calibration, eval_data, metric: as in ``quantrack.compare`` (a torch module or an .onnx
    path; ``(inputs, labels)`` scored by accuracy, or inputs with ``metric(outputs, fp32_outputs)``).
    max_drop: the budget in the score's units (accuracy: 0.01 = 1 point). objective: "latency"
    (fastest at batch 1, side by side with fp32) or "size" (smallest file). time_budget_s: no trial
    starts after it (running ones finish). max_trials: recipes tried at most (cached ones count).
    methods: "all" or names; the mixed-precision methods are this search's fallback strategy, not
    methods of it. workers: trials at once (>1 runs them as Ray tasks on a local runtime).
    cache: a folder; trials already there (same model, data, recipe and quantrack version) are not
    redone. tracking: None, True or a tracking URI (a parent run, one child per trial). out: a
    folder for report.json/.md/.html and the judged variants. ray_address: HOST:PORT of a Ray head;
    trials run as tasks there. held_out: the share of evaluation rows kept to judge the finalists
    (stratified by label, seeded). finalists: how many are judged there at most (default 3).
    """
    from quantrack.evaluate.compare import environment
    from quantrack.core.evalset import parse, required_inputs
    from quantrack.evaluate.onnx_model import OnnxModel, is_onnx_path, open_onnx
    from quantrack.evaluate.process_state import preserved_process_state
    from quantrack.recipe_search.split import split_rows

    started = time.perf_counter()
    progress = progress or _Silent()
    say = progress.notice
    score_name = metric_name or (getattr(metric, "__name__", "metric") if metric is not None else "accuracy")
    _check_numbers(objective, time_budget_s, max_trials, workers, threads, eval_batch_size, latency_budget_s, seed,
                   finalists)
    if metric is not None and not callable(metric):
        raise QuantrackError("metric must be a callable metric(outputs, fp32_outputs) -> float")
    budget = Budget(max_drop=max_drop, confidence=confidence, prefer=objective, score_name=score_name)
    if not (tracking is None or isinstance(tracking, (bool, str))):
        raise QuantrackError("tracking must be None, True or a tracking URI")
    names = check_options(methods=methods, objective=objective, time_budget_s=time_budget_s, max_trials=max_trials,
                          workers=workers, threads=threads, held_out=held_out, cache=cache, out=out,
                          ray_address=ray_address)
    if is_onnx_path(model):
        model = open_onnx(model)
    graph = model if isinstance(model, OnnxModel) else None
    if graph is None and not (hasattr(model, "forward") and hasattr(model, "state_dict")):
        raise QuantrackError(f"model must be a torch.nn.Module or the path of an .onnx file, got {type(model).__name__}")
    if eval_data is None:
        raise QuantrackError("eval_data is required: the rows every trial is scored on, and the finalists judged on")
    n_required = graph.n_inputs if graph is not None else required_inputs(model)
    evaluation = parse(eval_data, n_required=n_required, labels_expected=True if metric is None else None,
                       what="eval_data")
    calib = None if calibration is None else parse(calibration, n_required=n_required or len(evaluation.inputs),
                                                   labels_expected=None, what="calibration")
    if calib is not None and len(calib.inputs) != len(evaluation.inputs):
        raise QuantrackError(f"calibration has {len(calib.inputs)} input(s) but eval_data has {len(evaluation.inputs)}")
    if graph is not None:
        from quantrack.methods.base import ONNX_KIND

        model_kind = ONNX_KIND
        for what, given in (("eval_data", evaluation), ("calibration", calib)):
            if given is not None:
                graph.check_width(given.inputs, what)
    split = split_rows(evaluation.rows, evaluation.labels, held_out=held_out, seed=seed)
    selection, judged_rows = evaluation.take(split.selection), evaluation.take(split.held_out)
    n_final = finalists or 3
    with preserved_process_state(threads):
        return _run(model, graph, names, selection, judged_rows, calib, split, budget, metric, model_kind,
                    time_budget_s=time_budget_s, max_trials=max_trials, workers=workers, cache=cache,
                    tracking=tracking, out=out, ray_address=ray_address, seed=seed, threads=threads,
                    eval_batch_size=eval_batch_size, latency_budget_s=latency_budget_s, experiment=experiment,
                    fine_tune=fine_tune or {}, finalists=n_final, say=say, progress=progress, started=started,
                    env=environment(threads), evaluation_rows=evaluation.rows, held_out=held_out)


def check_options(*, methods: str | Sequence[str] = "all", objective: str = "latency",
                  time_budget_s: float = DEFAULT_TIME_BUDGET_S, max_trials: int = DEFAULT_MAX_TRIALS, workers: int = 1,
                  threads: int = 1, held_out: float = DEFAULT_HELD_OUT, cache=None, out=None,
                  ray_address: str | None = None) -> list[str]:
    """The options the command line checks before it reads data or trains (one line each)."""
    _check_numbers(objective, time_budget_s, max_trials, workers, threads, 256, 0.3, 0, None)
    if isinstance(held_out, bool) or not isinstance(held_out, (int, float)) or not 0 < held_out < 1:
        raise QuantrackError(f"held_out (--held-out) must be a fraction between 0 and 1 (e.g. 0.5), got {held_out!r}")
    for label, folder in (("out", out), ("cache", cache)):
        if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
            raise QuantrackError(f"{label} must be a folder; {folder} is a file")
    if ray_address is not None:
        from quantrack.sweep.ray_runtime import check_reachable

        check_reachable(ray_address)
    return choose_methods(methods)


def choose_methods(methods: str | Sequence[str]) -> list[str]:
    """The registered methods to search (the baseline is always measured, never searched)."""
    from quantrack.methods import BASELINE, METHOD_NAMES, NAMED_ONLY
    from quantrack.recipe_search.strategies import MIXED, searchable_methods

    chosen = [methods] if isinstance(methods, str) else list(methods)
    if not chosen or not all(isinstance(m, str) for m in chosen):
        raise QuantrackError("methods must be 'all' or a list of method names")
    mixed = [m for m in chosen if m in MIXED]
    if mixed:
        raise QuantrackError(f"{mixed[0]} is not searched as a method: its per-layer float fallback is a strategy of "
                             f"the search, applied to {MIXED[mixed[0]]}; pass {MIXED[mixed[0]]}")
    unknown = [m for m in chosen if m != "all" and m not in METHOD_NAMES]
    if unknown:
        hint = " (fp32 is the baseline, always measured)" if unknown[0] == BASELINE else ""
        raise QuantrackError(f"unknown method {unknown[0]!r}{hint}; choose from all, "
                             f"{', '.join(searchable_methods())}")
    # "all" as in compare: the compiled twins (minutes of torch.compile per trial) only when named.
    return [m for m in searchable_methods() if m in chosen or ("all" in chosen and m not in NAMED_ONLY)]


def _check_numbers(objective, time_budget_s, max_trials, workers, threads, eval_batch_size, latency_budget_s, seed,
                   finalists) -> None:
    if objective not in OBJECTIVES:
        raise QuantrackError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if isinstance(time_budget_s, bool) or not isinstance(time_budget_s, (int, float)) or not math.isfinite(
            time_budget_s) or time_budget_s <= 0:
        raise QuantrackError(f"time_budget_s (--time-budget) must be a positive number of seconds, got {time_budget_s!r}")
    for label, value in (("max_trials", max_trials), ("workers", workers), ("threads", threads),
                         ("eval_batch_size", eval_batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise QuantrackError(f"{label} must be a positive integer, got {value!r}")
    if finalists is not None and (isinstance(finalists, bool) or not isinstance(finalists, int) or finalists < 1):
        raise QuantrackError(f"finalists must be a positive integer, got {finalists!r}")
    if not (isinstance(latency_budget_s, (int, float)) and latency_budget_s > 0):
        raise QuantrackError(f"latency_budget_s must be positive, got {latency_budget_s!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise QuantrackError(f"seed must be an integer, got {seed!r}")


def _run(model, graph, names, selection, judged_rows, calib, split, budget: Budget, metric, model_kind, *,
         time_budget_s, max_trials, workers, cache, tracking, out, ray_address, seed, threads, eval_batch_size,
         latency_budget_s, experiment, fine_tune, finalists, say, progress, started, env, evaluation_rows,
         held_out) -> Report:
    from quantrack.recipe_search.cache import CacheIdentity, TrialCache
    from quantrack.recipe_search.digest import arrays_digest, metric_identity, model_digest, settings_digest
    from quantrack.recipe_search.engine import INTERRUPTED, run_search
    from quantrack.recipe_search.planner import Planner
    from quantrack.recipe_search.select import judge, pareto_ids
    from quantrack.recipe_search.strategies import config_classes, fallback_methods
    from quantrack.recipe_search.trial import Setup, time_alone

    setup = Setup(model=model, selection=selection, calibration=None if calib is None else calib.inputs,
                  calibration_labels=None if calib is None else calib.labels, metric=metric, model_kind=model_kind,
                  threads=threads, seed=seed, confidence=budget.confidence, eval_batch_size=eval_batch_size,
                  latency_budget_s=latency_budget_s, fine_tune=fine_tune)
    store = None
    if cache is not None:
        data = settings_digest({
            "selection": arrays_digest(*selection.inputs, selection.labels),
            "calibration": "none" if calib is None else arrays_digest(*calib.inputs, calib.labels),
            "metric": metric_identity(metric), "threads": threads, "seed": seed, "confidence": budget.confidence,
            "latency_budget_s": latency_budget_s, "model_kind": model_kind, "fine_tune": fine_tune})
        store = TrialCache(cache, CacheIdentity(model=model_digest(model), data=data), say=say)
    tracked = None
    if tracking:
        from quantrack.recipe_search.track import SearchTracking

        progress.stage("connecting to MLflow")
        tracked = SearchTracking(tracking, experiment, say)
    models_dir = None
    if out is not None:
        models_dir = Path(out) / "models"
        models_dir.mkdir(parents=True, exist_ok=True)
    config = {"methods": ",".join(names), "max_drop": budget.max_drop, "objective": budget.prefer,
              "prefer": budget.prefer, "confidence": budget.confidence, "time_budget_s": time_budget_s,
              "max_trials": max_trials, "workers": workers, "threads": threads, "seed": seed, "metric": budget.score_name,
              "eval_rows": evaluation_rows, "held_out": held_out, **split.to_dict(),
              "calibration_rows": None if calib is None else calib.rows, "cache": None if cache is None else str(cache),
              "ray_address": ray_address}
    if tracked is not None:
        tracked.start({"kind": "search", **{k: v for k, v in config.items() if v is not None}})
    executor = None
    try:
        progress.stage("measuring fp32")
        base, _, _ = setup.fp32()
        fp32_latency = time_alone(base, setup)
        planner = Planner(names, config_classes(names), budget,
                          fallback_methods=fallback_methods(names) if graph is None else ())
        if ray_address is not None or workers > 1:
            from quantrack.recipe_search.executor import RayExecutor

            executor = RayExecutor(setup, ray_address, workers, say)
        else:
            from quantrack.recipe_search.executor import LocalExecutor

            executor = LocalExecutor(setup)
        progress.stage("searching")
        outcome = run_search(setup, planner, executor, budget, time_budget_s=time_budget_s, max_trials=max_trials,
                             cache=store, finalists=finalists, say=say,
                             on_trial=tracked.trial if tracked is not None else None, started=started)
        executor.close()
        executor = None
        progress.stage("judging the finalists on the held-out rows")
        judgement = judge(setup, judged_rows, outcome.trials, outcome.live, budget, fp32_latency, finalists, say,
                          models_dir)
        outcome.live.clear()
        by_id = {t.id: t for t in outcome.trials}
        section = {
            "trials": [t.to_dict() for t in outcome.trials],
            **split.to_dict(),
            "pareto": pareto_ids(outcome.trials),
            "stopped_because": outcome.stopped_because,
            "seconds": round(time.perf_counter() - started, 3),
            "search_seconds": outcome.seconds,
            "time_budget_s": time_budget_s, "max_trials": max_trials,
            "objective": budget.prefer, "budget": budget.to_dict(),
            "champion_trial": judgement.champion_trial,
            "champion_strategy": by_id[judgement.champion_trial].recipe.get("strategy")
            if judgement.champion_trial is not None else None,
            "finalists": judgement.judged,
            "sensitivity": {m: {k: v for k, v in t.items() if k != "ranked"} for m, t in outcome.tables.items()},
            "not_tried": list(planner.skipped.values()),
            "refused_combinations": {m: n for m, n in planner.refused.items() if n},
            "cache": None if store is None else {"folder": str(store.folder), "hits": sum(t.cached for t in outcome.trials),
                                                  "ignored": list(store.ignored)},
            "ran_on": "ray" if ray_address is not None or workers > 1 else "local",
        }
        report = Report(variants=judgement.variants, champion=judgement.champion, champion_reason=judgement.reason,
                        champion_rule=judgement.rule, batch_sizes=[1], score_name=budget.score_name,
                        max_drop=budget.max_drop, prefer=budget.prefer, budget=budget.to_dict(), environment=env,
                        config=config,
                        model_summary=graph.summary() if graph is not None else _model_summary(model, selection),
                        search=section)
        if out is not None:
            report.out_dir = str(Path(out))
            report.save(out)
        if tracked is not None:
            tracked.finish(report, Path(out) if out is not None else None,
                           interrupted=outcome.stopped_because == INTERRUPTED)
            report.mlflow = tracked.tracker.info
        return report
    except BaseException:
        if executor is not None:
            executor.close()
        if tracked is not None:
            tracked.fail()
        raise


def _model_summary(model, evaluation) -> dict[str, Any]:
    return {"class": type(model).__name__, "params": sum(p.numel() for p in model.parameters()),
            "inputs": [f"{a.dtype}[{', '.join(['rows', *map(str, a.shape[1:])])}]" for a in evaluation.inputs]}
