"""``quantrack.compare``: every quantization method on *your* model, measured honestly, and the one to ship.

For each method (fp32, the registry's baseline, first): quantize a private copy, save its
deployable file, run the evaluation set through it in batches, score it, and time it side by
side with fp32 at each batch size. Then choose the champion within the budget. ``quantrack run``
is a caller of this function, so the CLI and the library measure alike.

The user's model is never modified (every method works on a copy), and every process-wide
setting changed on the way is restored before returning (see process_state.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quantrack.core.budget import DEFAULT_CONFIDENCE, DEFAULT_MAX_DROP, Budget
from quantrack.core.method_config import MethodConfig
from quantrack.core.tracking import RunTracker
from quantrack.errors import QuantrackError, first_line
from quantrack.core.evalset import EvalSet, parse, required_inputs
from quantrack.core.results import VariantResult
from quantrack.report.document import Report

Metric = Callable[[np.ndarray, np.ndarray], float]


class _Unset:
    """compare's ``confidence`` when not given: told apart from None (judge on point estimates)."""

    def __repr__(self) -> str:
        return "0.95"


UNSET = _Unset()


class _Silent:
    def stage(self, text: str) -> None:
        pass

    def notice(self, text: str) -> None:
        pass


def compare(
    model: Any,
    calibration: Any = None,
    eval_data: Any = None,
    *,
    methods: str | Sequence[str] = "all",
    max_drop: float | None = None,
    prefer: str | None = None,
    batch_sizes: Sequence[int] = (1, 64),
    threads: int = 1,
    tracking: bool | str | None = None,
    out: str | Path | None = None,
    metric: Metric | None = None,
    metric_name: str | None = None,
    confidence: float | None | _Unset = UNSET,
    budget: Budget | None = None,
    eval_batch_size: int = 256,
    latency_budget_s: float = 0.3,
    experiment: str = "quantrack",
    artifacts: str | Path | None = None,
    configs: Mapping[str, MethodConfig] | None = None,
    seed: int = 0,
    progress: Any = None,
    timing_gate: Callable[[], contextlib.AbstractContextManager] | None = None,
    model_kind: str | None = None,
    sensitivity_rows: int | None = None,
    notes: dict[str, Any] | None = None,
    tracker: RunTracker | None = None,
    facts: dict[str, Any] | None = None,
    plot_worker: Any = None,
) -> Report:
    """Quantize ``model`` every way asked, measure each variant against fp32, choose the one to ship.

    model: a float32 ``torch.nn.Module`` (never modified), or the path of an ``.onnx`` file (the
    graph run by ONNX Runtime is the baseline; the ONNX Runtime quantizers apply). calibration: inputs for calibration and
    QAT, rows on axis 0 (numpy or tensors); ``(X, y)`` adds labels, which QAT needs. eval_data:
    ``(inputs, labels)`` scored by accuracy, or inputs alone with ``metric``. A model with several
    inputs takes a tuple of arrays, in ``forward``'s order (labels last, when given).
    methods: "all" or a list of method names. max_drop: the champion budget in the score's units
    (accuracy: 0.01 = 1 point; 1 or more is refused), default 0.01. prefer: "size" (default) or
    "latency". budget: a :class:`quantrack.core.budget.Budget` instead of max_drop, confidence and
    prefer (not both). batch_sizes: latency is measured at
    these. threads: torch and ONNX Runtime intra-op threads. tracking: None (no MLflow), True (the
    default store) or a tracking URI. out: a folder for report.json/.md/.html, plots and the saved
    variants (None: nothing written). metric: ``metric(outputs, fp32_outputs) -> float``, higher is
    better, over the whole evaluation set. confidence: the level of every interval, and of the
    champion rule (a variant is within budget when its whole paired drop interval is); None judges
    on point estimates alone. artifacts: a folder for the variants' files without a
    report. configs: ``{method name: its config}`` (e.g. ``{"qat-int8": QatConfig(epochs=5)}``); each
    must be an instance of that method's ``Method.config`` class; unnamed methods use their defaults.
    report.json records the config of every variant. timing_gate: a callable returning a
    context manager entered around each latency measurement (a sweep holds other trials off the
    cores meanwhile). notes: extra entries for the report's config and the MLflow run's params.
    sensitivity_rows: the mixed-precision methods score each layer alone on this many calibration
    rows (None: all). They choose their float layers on the calibration rows that are not eval_data
    rows, never on the rows that judge them; without such rows they are reported unavailable. tracker: a :class:`quantrack.core.tracking.RunTracker` whose run the caller has
    started (and ends): the report is logged into it, instead of into a run of its own (``tracking``).
    facts: Report fields the caller adds before the report is saved and logged (``quantrack run``: its
    config, dataset, training losses...). plot_worker: draws the plots elsewhere (report.plot_worker).
    """
    from quantrack.evaluate.onnx_model import OnnxModel, is_onnx_path, open_onnx

    progress = progress or _Silent()
    if is_onnx_path(model):
        model = open_onnx(model)
    graph = model if isinstance(model, OnnxModel) else None
    names = _check_options(model, methods, batch_sizes, threads, eval_batch_size, latency_budget_s, tracking, out,
                           metric, tracker, facts)
    chosen_configs = _check_configs(configs, names)
    own_tracker = _own_tracker(tracking, experiment) if tracking else None  # a wrong URI fails now, in seconds
    score_name = metric_name or (getattr(metric, "__name__", "metric") if metric is not None else "accuracy")
    budget = _budget(budget, max_drop, confidence, prefer, score_name)
    confidence = budget.confidence
    if eval_data is None:
        raise QuantrackError("eval_data is required: the rows every variant is scored and timed on")
    n_required = graph.n_inputs if graph is not None else required_inputs(model)
    evaluation = parse(eval_data, n_required=n_required, labels_expected=True if metric is None else None,
                       what="eval_data")
    calib = None if calibration is None else parse(calibration, n_required=n_required or len(evaluation.inputs),
                                                   labels_expected=None, what="calibration")
    if calib is not None and len(calib.inputs) != len(evaluation.inputs):
        raise QuantrackError(f"calibration has {len(calib.inputs)} input(s) but eval_data has {len(evaluation.inputs)}")
    if sensitivity_rows is not None and not (isinstance(sensitivity_rows, int) and sensitivity_rows >= 1):
        raise QuantrackError(f"sensitivity_rows must be a positive integer, got {sensitivity_rows!r}")
    if graph is not None:
        from quantrack.methods.base import ONNX_KIND

        model_kind = ONNX_KIND
        for what, given in (("eval_data", evaluation), ("calibration", calib)):
            if given is not None:
                graph.check_width(given.inputs, what)
    from quantrack.evaluate.process_state import preserved_process_state

    from quantrack.methods.base import SearchContext

    # What the mixed-precision methods search with; they leave their per-layer tables in search.sink.
    search = SearchContext(evaluation=evaluation, metric=metric, eval_batch_size=eval_batch_size,
                           sensitivity_rows=sensitivity_rows)
    with preserved_process_state(threads):
        env = environment(threads)
        with _variant_folder(artifacts, out) as models_dir:
            variants, batches = measure_variants(
                model, names, evaluation, calib, models_dir=models_dir, metric=metric, batch_sizes=batch_sizes,
                threads=threads, eval_batch_size=eval_batch_size, latency_budget_s=latency_budget_s,
                configs=chosen_configs, seed=seed, progress=progress, timing_gate=timing_gate,
                model_kind=model_kind, confidence=confidence, env=env, search=search, budget=budget)
        from quantrack.evaluate.champion import choose_champion

        # Intervals exist for every variant unless a metric is not a mean over rows (see _row_scores).
        judged = confidence if all(v.stats is not None for v in variants if v.available) else None
        decided = budget.judged_with(judged)
        champion = choose_champion(variants, budget=decided, batch_size=batches[-1])
        report = Report(variants=variants, champion=champion.name, champion_reason=champion.reason,
                        champion_rule=champion.rule, batch_sizes=batches,
                        score_name=score_name, max_drop=decided.max_drop, prefer=decided.prefer,
                        budget=decided.to_dict(), environment=env,
                        config={"methods": ",".join(names), "max_drop": decided.max_drop, "prefer": decided.prefer,
                                "confidence": judged,
                                "batch_sizes": list(batches), "threads": threads, "metric": score_name,
                                "eval_rows": evaluation.rows,
                                "calibration_rows": None if calib is None else calib.rows, **(notes or {})},
                        model_summary=graph.summary() if graph is not None else _model_summary(model, evaluation),
                        sensitivity={m: list(t) for m, t in search.sink.items()},
                        sensitivity_cost={m: t.cost() for m, t in search.sink.items()})
        if out is not None:
            report.out_dir = str(Path(out))
        for key, value in (facts or {}).items():  # the caller's own findings (checked in _check_options)
            setattr(report, key, value)
        if tracker is not None:
            report.mlflow = tracker.info
        _publish(report, out, models_dir if (artifacts is not None or out is not None) else None, tracker,
                 own_tracker, progress, plot_worker)
    return report


def _publish(report: Report, out, models_dir: Path | None, tracker: RunTracker | None, own: RunTracker | None,
             progress, plot_worker) -> None:
    """Save the report (into ``out``, or a scratch folder when only a tracker wants the files) and log
    it, once, through tracking/report_run.py: into the caller's open run, or into a run of its own."""
    if out is None and tracker is None and own is None:
        return
    from quantrack.report.writers import PLOTS_DIR
    from quantrack.tracking.report_run import log_files, log_results

    target = tracker if tracker is not None else own  # own: a run of compare's own, started and ended here
    with contextlib.ExitStack() as stack:
        folder = Path(out) if out is not None else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="quantrack-report-")))
        progress.stage("writing the report")
        if plot_worker is not None:
            plot_worker.submit(report, folder / PLOTS_DIR)  # drawn in a child while the results are logged
        if own is not None:
            from quantrack.tracking.leftovers import clean_leftovers

            # a compare killed outright (SIGKILL) left its run RUNNING: marked KILLED now, as `quantrack run` does
            line = clean_leftovers(own)
            if line:
                progress.notice(line)
            own.start(None, report.config, tags={"quantrack.kind": "compare"})
            report.mlflow = own.info  # before the save: report.json, .md and .html name their run
        try:
            if target is not None:
                log_results(target, report)
            files = report.save(folder, plots=plot_worker.result() if plot_worker is not None else None)
            if target is not None:
                log_files(target, folder, files, models_dir)
            if own is not None:
                own.end("FINISHED")
        except BaseException:
            if own is not None:
                own.fail()
            raise


def _budget(budget: Budget | None, max_drop, confidence, prefer, score_name: str) -> Budget:
    """The one Budget compare decides with: ``budget=``, else built from max_drop/confidence/prefer
    (validated there, in the score's units)."""
    if budget is not None:
        if not isinstance(budget, Budget):
            raise QuantrackError(f"budget must be a quantrack.core.budget.Budget, got {type(budget).__name__}")
        given = [k for k, v in (("max_drop", max_drop), ("prefer", prefer)) if v is not None]
        given += ["confidence"] if not isinstance(confidence, _Unset) else []
        if given:
            raise QuantrackError(f"pass either budget= or {', '.join(given)}=, not both")
        return budget if budget.score_name == score_name else budget.with_score(score_name)
    return Budget(max_drop=DEFAULT_MAX_DROP if max_drop is None else max_drop,
                  confidence=DEFAULT_CONFIDENCE if isinstance(confidence, _Unset) else confidence,
                  prefer="size" if prefer is None else prefer, score_name=score_name)


def _own_tracker(tracking: bool | str, experiment: str) -> RunTracker:
    """compare's own MLflow run (``tracking=True`` or a URI), checked before anything is measured."""
    import os

    from quantrack.tracking.tracker import Tracker

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # restored when compare returns
    own = Tracker(None if tracking is True else tracking, experiment)
    own.check()
    return own


def _check_options(model, methods, batch_sizes, threads, eval_batch_size, latency_budget_s, tracking, out,
                   metric, tracker=None, facts=None) -> list[str]:
    """Every argument checked before anything heavy runs: a mistake is one clear error, nothing half done."""
    from quantrack.evaluate.onnx_model import OnnxModel
    from quantrack.methods import BASELINE, check_method_names, expand

    if not isinstance(model, OnnxModel) and not (hasattr(model, "forward") and hasattr(model, "state_dict") and hasattr(model, "parameters")):
        raise QuantrackError(f"model must be a torch.nn.Module or the path of an .onnx file, got {type(model).__name__}")
    chosen = check_method_names([methods] if isinstance(methods, str) else methods)
    names = [BASELINE] + expand(chosen)
    if not batch_sizes or not all(isinstance(b, int) and b >= 1 for b in batch_sizes):
        raise QuantrackError(f"batch_sizes must be positive integers, got {batch_sizes!r}")
    for label, value in (("threads", threads), ("eval_batch_size", eval_batch_size)):
        if not (isinstance(value, int) and value >= 1):
            raise QuantrackError(f"{label} must be a positive integer, got {value!r}")
    if not latency_budget_s > 0:
        raise QuantrackError(f"latency_budget_s must be positive, got {latency_budget_s!r}")
    if metric is not None and not callable(metric):
        raise QuantrackError("metric must be a callable metric(outputs, fp32_outputs) -> float")
    if not (tracking is None or isinstance(tracking, (bool, str))):
        raise QuantrackError("tracking must be None, True or a tracking URI")
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise QuantrackError(f"out must be a folder; {out} is a file")
    if tracker is not None:
        if tracking:
            raise QuantrackError("pass either tracker= (a run you started) or tracking=, not both")
        if not isinstance(tracker, RunTracker):
            raise QuantrackError(f"tracker must implement quantrack.core.tracking.RunTracker, got {type(tracker).__name__}")
    if facts is not None:
        from dataclasses import fields

        known = {f.name for f in fields(Report)}
        unknown = [k for k in facts if k not in known]
        if unknown:
            raise QuantrackError(f"facts: {', '.join(map(repr, unknown))} is not a Report field")
    return names


def _check_configs(configs: Mapping[str, MethodConfig] | None, names: list[str]) -> dict[str, MethodConfig]:
    """Each given config checked against its method's config class, before anything is measured."""
    from quantrack.methods import check_method_names, get_method

    if configs is None:
        return {}
    if not isinstance(configs, Mapping):
        raise QuantrackError(f"configs must be a dict {{method name: config}}, got {type(configs).__name__}")
    check_method_names(configs, allow_all=False)
    extra = [m for m in configs if m not in names]
    if extra:
        raise QuantrackError(f"configs names {', '.join(map(repr, extra))}, which is not among the methods compared "
                             f"({', '.join(names)})")
    checked = {}
    for name, config in configs.items():
        try:
            method = get_method(name)
        except ImportError:  # reported unavailable when measured; its config cannot be checked here
            checked[name] = config
            continue
        checked[name] = method.check_config(config)
    return checked


@contextlib.contextmanager
def _variant_folder(artifacts, out) -> Iterator[Path]:
    """Where the variants' files go: ``artifacts``, else ``out/models``, else a folder removed after
    (file sizes are measured on the saved file either way)."""
    if artifacts is not None or out is not None:
        folder = Path(artifacts) if artifacts is not None else Path(out) / "models"
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="quantrack-variants-") as d:
        yield Path(d)


def measure_variants(model, names: Sequence[str], evaluation: EvalSet, calib: EvalSet | None, *, models_dir: Path,
                     metric: Metric | None, batch_sizes: Sequence[int], threads: int, eval_batch_size: int,
                     latency_budget_s: float, configs: Mapping[str, MethodConfig], seed: int, progress,
                     timing_gate=None, model_kind: str | None = None, confidence: float | None = 0.95,
                     env: dict[str, Any] | None = None, search=None,
                     budget: Budget | None = None) -> tuple[list[VariantResult], list[int]]:
    """Each method in ``names`` (the baseline first) applied, saved, scored and timed against it."""
    import torch

    from quantrack.evaluate.hardware import explain
    from quantrack.evaluate.onnx_model import OnnxModel
    from quantrack.methods.base import MethodUnavailable, QuantContext, private_copy, quiet_warnings, remove_artifact

    given_onnx = model.model_bytes if isinstance(model, OnnxModel) else None  # methods start from its bytes
    float_model = None if given_onnx is not None else private_copy(model)
    ctx = QuantContext(model=float_model, onnx_model=given_onnx, example=evaluation.take(slice(0, 2)).inputs,
                       calibration=None if calib is None else calib.inputs,
                       labels=None if calib is None else calib.labels, model_kind=model_kind,
                       seed=seed, threads=threads, budget=budget, search=search)
    batches = sorted({min(b, evaluation.rows) for b in batch_sizes})
    results: list[VariantResult] = []
    baseline = base_out = base_pred = base_rows = None
    for name in names:
        progress.stage(f"quantizing and measuring {name}")
        method = _method_or_reason(name)
        config = configs.get(name) if isinstance(method, str) else method.check_config(configs.get(name))
        recorded = {} if config is None else config.to_dict()  # report.json: the recipe each variant used
        reason = method if isinstance(method, str) else method.unavailable_reason(model_kind)
        if reason:
            results.append(VariantResult(name, available=False, reason=reason, config=recorded))
            continue
        started, started_ms = time.perf_counter(), int(time.time() * 1000)
        path = None
        try:
            with quiet_warnings():
                torch.manual_seed(seed)  # calibration/QAT order: the same figures for the same seed
                variant = method.apply(dataclasses.replace(ctx, method=name, config=config))
            quantize_s = time.perf_counter() - started
            path = variant.save(models_dir)
            outputs = _outputs_in_batches(variant, evaluation, eval_batch_size)
            if baseline is None:
                _check_labels(evaluation, outputs)
            latencies = [_latency(variant, baseline, evaluation.take(slice(0, bs)).inputs, bs, threads,
                                  latency_budget_s, timing_gate) for bs in batches]
        except Exception as e:
            if baseline is None:  # fp32 must run: without it there is nothing to compare with
                if isinstance(e, QuantrackError):
                    raise
                raise QuantrackError(f"the model does not run on eval_data: {type(e).__name__}: {first_line(e)}") from None
            if path is not None:
                remove_artifact(path)  # no artifact for a variant the report calls unavailable
            # One method's bug or missing kernel must not cost the user every other variant's figures.
            results.append(VariantResult(name, available=False, reason=_reason(e, MethodUnavailable), config=recorded,
                                         started_ms=started_ms, ended_ms=int(time.time() * 1000)))
            continue
        if baseline is None:
            baseline, base_out = variant, outputs
            base_pred = _predictions(outputs)
        result = _result(name, variant, path, outputs, base_out, base_pred, evaluation, metric, latencies,
                         quantize_s)
        result.config = recorded
        rows = _row_scores(outputs, base_out, evaluation, metric)
        if baseline is variant:
            base_rows = rows
        if rows is not None and base_rows is not None:
            from quantrack.core.stats import paired_stats

            # Intervals at `confidence`; with None (point estimates decide) they are still shown, at 95 %.
            result.stats = paired_stats(base_rows, None if baseline is variant else rows,
                                        confidence=confidence or 0.95, seed=seed)
        result.why = explain(name, latencies, (env or {}).get("cpu", {}), baseline.params)
        result.started_ms, result.ended_ms = started_ms, int(time.time() * 1000)
        results.append(result)
    base = results[0]
    for r in results:
        if r.available:
            r.payload_ratio = round(r.payload_bytes / base.payload_bytes, 4) if base.payload_bytes else None
            r.file_ratio = round(r.file_bytes / base.file_bytes, 4) if base.file_bytes else None
    return results, batches


def _method_or_reason(name: str):
    """The registered method, or why it cannot even be imported here (a missing package)."""
    from quantrack.methods import get_method

    try:
        return get_method(name)
    except ImportError as e:
        return f"cannot import its libraries: {first_line(e)}"


def _reason(e: Exception, unavailable: type) -> str:
    if isinstance(e, unavailable):
        return first_line(e)
    if isinstance(e, ImportError):
        return f"cannot import its libraries: {first_line(e)}"
    return f"failed: {type(e).__name__}: {first_line(e)}"


def _outputs_in_batches(variant, evaluation: EvalSet, batch_size: int) -> np.ndarray:
    """The whole evaluation set through the variant, ``batch_size`` rows per call."""
    parts = [variant.outputs(evaluation.take(slice(lo, lo + batch_size)).inputs)
             for lo in range(0, evaluation.rows, batch_size)]
    return np.concatenate(parts, axis=0)


def _predictions(outputs: np.ndarray) -> np.ndarray | None:
    """Class indices when the outputs are per-class scores (rows x classes), else None."""
    return outputs.argmax(axis=1) if outputs.ndim == 2 and outputs.shape[1] > 1 else None


def _check_labels(evaluation: EvalSet, outputs: np.ndarray) -> None:
    if evaluation.labels is None:
        return
    if _predictions(outputs) is None:
        raise QuantrackError(f"eval_data has labels, but the model's output has shape {outputs.shape}, not "
                             "(rows, classes); pass a metric= to score other outputs")
    n_classes = outputs.shape[1]
    if evaluation.labels.max() >= n_classes:
        raise QuantrackError(f"eval_data labels go up to {evaluation.labels.max()}, but the model has "
                             f"{n_classes} outputs (labels are output indices 0..{n_classes - 1})")


def _row_scores(outputs: np.ndarray, base_out: np.ndarray, evaluation: EvalSet, metric) -> np.ndarray | None:
    """Per-row figures the paired statistics work on: correctness (booleans) with labels and no
    metric; otherwise the metric on each row alone, kept only when their mean is the metric over
    the whole set (a mean over rows, like mean cosine). A metric that is not (an F1, say) gets no
    interval, and the champion rule falls back to point estimates."""
    if metric is None:
        pred = _predictions(outputs)
        return None if pred is None or evaluation.labels is None else pred == evaluation.labels
    per_row = np.array([metric(outputs[i:i + 1], base_out[i:i + 1]) for i in range(len(outputs))], dtype=np.float64)
    whole = float(metric(outputs, base_out))
    if not np.isfinite(per_row).all() or abs(per_row.mean() - whole) > 1e-6 * max(1.0, abs(whole)):
        return None
    return per_row


def _result(name, variant, path: Path, outputs, base_out, base_pred, evaluation: EvalSet, metric, latencies,
            quantize_s) -> VariantResult:
    from quantrack.methods.base import artifact_bytes

    pred = _predictions(outputs)
    labels = evaluation.labels
    accuracy = float(np.mean(pred == labels)) if labels is not None and pred is not None else None
    agreement = float(np.mean(pred == base_pred)) if pred is not None and base_pred is not None and (
        labels is not None or metric is None) else None
    score = float(metric(outputs, base_out)) if metric is not None else accuracy
    confusion = None
    if labels is not None and pred is not None:
        k = outputs.shape[1]
        confusion = np.bincount(labels * k + pred, minlength=k * k).reshape(k, k).tolist()
    return VariantResult(name=name, score=score, accuracy=accuracy, agreement=agreement, params=variant.params,
                         payload_bytes=variant.payload_bytes, file_bytes=artifact_bytes(path), artifact=path.name,
                         latency=latencies, seconds_to_quantize=round(quantize_s, 4), confusion=confusion,
                         float_layers=getattr(variant, "float_layers", None),
                         runtime=getattr(variant, "runtime", None), recipe=getattr(variant, "recipe", None),
                         compile_seconds=_rounded(getattr(variant, "compile_seconds", None)))


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _latency(variant, baseline, x, batch_size: int, threads: int, budget_s: float, gate):
    """The baseline alone; any other variant side by side with it (timing.time_against)."""
    from quantrack.evaluate.timing import time_against, time_calls

    with contextlib.ExitStack() as stack:
        if gate is not None:
            stack.enter_context(gate())
        if baseline is None:
            stack.enter_context(variant.inference_context())
            # min_time_s: a few-µs call needs 50 ms of samples, not 30 calls, to count as settled.
            return time_calls(variant.runner(x), threads=threads, batch_size=batch_size, budget_s=budget_s,
                              min_time_s=0.05)
        stack.enter_context(baseline.inference_context())
        stack.enter_context(variant.inference_context())
        return time_against(variant.runner(x), baseline.runner(x), threads=threads, batch_size=batch_size,
                            budget_s=budget_s)


def _model_summary(model, evaluation: EvalSet) -> dict[str, Any]:
    return {"class": type(model).__name__, "params": sum(p.numel() for p in model.parameters()),
            "inputs": [f"{a.dtype}[{', '.join(['rows', *map(str, a.shape[1:])])}]" for a in evaluation.inputs]}


def environment(threads: int) -> dict[str, Any]:
    import os
    import platform

    import torch

    from quantrack.evaluate.hardware import cpu_facts

    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpus": os.cpu_count(), "threads": threads, "cpu": cpu_facts(threads)}
