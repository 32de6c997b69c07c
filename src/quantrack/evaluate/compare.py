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
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quantrack.errors import QuantrackError, first_line
from quantrack.evaluate.data import EvalSet, parse, required_inputs
from quantrack.evaluate.results import VariantResult
from quantrack.report.document import Report

Metric = Callable[[np.ndarray, np.ndarray], float]
PREFER_CHOICES = ("size", "latency")


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
    max_drop: float = 0.01,
    prefer: str = "size",
    batch_sizes: Sequence[int] = (1, 64),
    threads: int = 1,
    tracking: bool | str | None = None,
    out: str | Path | None = None,
    metric: Metric | None = None,
    metric_name: str | None = None,
    confidence: float | None = 0.95,
    eval_batch_size: int = 256,
    latency_budget_s: float = 0.3,
    experiment: str = "quantrack",
    artifacts: str | Path | None = None,
    fine_tune: dict[str, Any] | None = None,
    seed: int = 0,
    progress: Any = None,
    timing_gate: Callable[[], contextlib.AbstractContextManager] | None = None,
    model_kind: str | None = None,
    sensitivity_rows: int | None = None,
    notes: dict[str, Any] | None = None,
) -> Report:
    """Quantize ``model`` every way asked, measure each variant against fp32, choose the one to ship.

    model: a float32 ``torch.nn.Module`` (never modified), or the path of an ``.onnx`` file (the
    graph run by ONNX Runtime is the baseline; the ONNX Runtime quantizers apply). calibration: inputs for calibration and
    QAT, rows on axis 0 (numpy or tensors); ``(X, y)`` adds labels, which QAT needs. eval_data:
    ``(inputs, labels)`` scored by accuracy, or inputs alone with ``metric``. A model with several
    inputs takes a tuple of arrays, in ``forward``'s order (labels last, when given).
    methods: "all" or a list of method names. max_drop: the champion budget in the score's units
    (accuracy: 0.01 = 1 point). prefer: "size" or "latency". batch_sizes: latency is measured at
    these. threads: torch and ONNX Runtime intra-op threads. tracking: None (no MLflow), True (the
    default store) or a tracking URI. out: a folder for report.json/.md/.html, plots and the saved
    variants (None: nothing written). metric: ``metric(outputs, fp32_outputs) -> float``, higher is
    better, over the whole evaluation set. confidence: the level of every interval, and of the
    champion rule (a variant is within budget when its whole paired drop interval is); None judges
    on point estimates alone. artifacts: a folder for the variants' files without a
    report. fine_tune: QAT options (lr, batch_size, epochs). timing_gate: a callable returning a
    context manager entered around each latency measurement (a sweep holds other trials off the
    cores meanwhile). notes: extra entries for the report's config and the MLflow run's params.
    sensitivity_rows: the mixed-precision methods score each layer alone on this many evaluation
    rows (None: all).
    """
    from quantrack.evaluate.onnx_model import OnnxModel, is_onnx_path, open_onnx

    progress = progress or _Silent()
    if is_onnx_path(model):
        model = open_onnx(model)
    graph = model if isinstance(model, OnnxModel) else None
    names = _check_options(model, methods, max_drop, prefer, batch_sizes, threads, eval_batch_size, latency_budget_s,
                           tracking, out, metric)
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
    score_name = metric_name or (getattr(metric, "__name__", "metric") if metric is not None else "accuracy")
    from quantrack.evaluate.process_state import preserved_process_state

    # What the mixed-precision methods search with; they leave their per-layer tables in "sensitivity".
    search = {"max_drop": max_drop, "metric": metric, "eval": evaluation, "eval_batch_size": eval_batch_size,
              "sensitivity_rows": sensitivity_rows, "sensitivity": {}}
    with preserved_process_state(threads):
        env = environment(threads)
        with _variant_folder(artifacts, out) as models_dir:
            variants, batches = measure_variants(
                model, names, evaluation, calib, models_dir=models_dir, metric=metric, batch_sizes=batch_sizes,
                threads=threads, eval_batch_size=eval_batch_size, latency_budget_s=latency_budget_s,
                fine_tune=fine_tune or {}, seed=seed, progress=progress, timing_gate=timing_gate,
                model_kind=model_kind, confidence=confidence, env=env, extra=search)
        from quantrack.evaluate.champion import choose_champion

        # Intervals exist for every variant unless a metric is not a mean over rows (see _row_scores).
        judged = confidence if all(v.stats is not None for v in variants if v.available) else None
        champion = choose_champion(variants, max_drop=max_drop, prefer=prefer, batch_size=batches[-1],
                                   confidence=judged, score_name=score_name)
        report = Report(variants=variants, champion=champion.name, champion_reason=champion.reason,
                        champion_rule=champion.rule, batch_sizes=batches,
                        score_name=score_name, max_drop=max_drop, prefer=prefer, environment=env,
                        config={"methods": ",".join(names), "max_drop": max_drop, "prefer": prefer,
                                "confidence": judged,
                                "batch_sizes": list(batches), "threads": threads, "metric": score_name,
                                "eval_rows": evaluation.rows,
                                "calibration_rows": None if calib is None else calib.rows, **(notes or {})},
                        model_summary=graph.summary() if graph is not None else _model_summary(model, evaluation),
                        sensitivity={m: list(t) for m, t in search["sensitivity"].items()},
                        sensitivity_cost={m: t.cost() for m, t in search["sensitivity"].items()})
        if out is not None:
            report.out_dir = str(Path(out))
            report.save(out)
        if tracking:
            _track(report, tracking, experiment, out)
    return report


def _check_options(model, methods, max_drop, prefer, batch_sizes, threads, eval_batch_size, latency_budget_s,
                   tracking, out, metric) -> list[str]:
    """Every argument checked before anything heavy runs: a mistake is one clear error, nothing half done."""
    from quantrack.evaluate.onnx_model import OnnxModel
    from quantrack.methods import BASELINE, METHOD_NAMES

    if not isinstance(model, OnnxModel) and not (hasattr(model, "forward") and hasattr(model, "state_dict") and hasattr(model, "parameters")):
        raise QuantrackError(f"model must be a torch.nn.Module or the path of an .onnx file, got {type(model).__name__}")
    chosen = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in chosen if m != "all" and m != BASELINE and m not in METHOD_NAMES]
    if unknown:
        raise QuantrackError(f"unknown method {', '.join(map(repr, unknown))}; choose from all, "
                             f"{', '.join(METHOD_NAMES)}")
    names = [BASELINE] + [m for m in METHOD_NAMES if "all" in chosen or m in chosen]
    if not (isinstance(max_drop, (int, float)) and math.isfinite(max_drop) and max_drop >= 0):
        raise QuantrackError(f"max_drop must be a number >= 0 in the score's units, got {max_drop!r}")
    if prefer not in PREFER_CHOICES:
        raise QuantrackError(f"prefer must be one of {', '.join(PREFER_CHOICES)}, got {prefer!r}")
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
    return names


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
                     latency_budget_s: float, fine_tune: dict[str, Any], seed: int, progress,
                     timing_gate=None, model_kind: str | None = None, confidence: float | None = 0.95,
                     env: dict[str, Any] | None = None,
                     extra: dict[str, Any] | None = None) -> tuple[list[VariantResult], list[int]]:
    """Each method in ``names`` (the baseline first) applied, saved, scored and timed against it."""
    import torch

    from quantrack.evaluate.hardware import explain
    from quantrack.evaluate.onnx_model import OnnxModel
    from quantrack.methods.base import MethodUnavailable, QuantContext, private_copy, quiet_warnings

    given_onnx = model.model_bytes if isinstance(model, OnnxModel) else None  # methods start from its bytes
    float_model = None if given_onnx is not None else private_copy(model)
    ctx = QuantContext(model=float_model, onnx_model=given_onnx, example=evaluation.take(slice(0, 2)).inputs,
                       calibration=None if calib is None else calib.inputs,
                       labels=None if calib is None else calib.labels, model_kind=model_kind,
                       lr=float(fine_tune.get("lr", 0.01)), batch_size=int(fine_tune.get("batch_size", 32)),
                       seed=seed, threads=threads,
                       extra={**({"qat_epochs": fine_tune["epochs"]} if "epochs" in fine_tune else {}), **(extra or {})})
    batches = sorted({min(b, evaluation.rows) for b in batch_sizes})
    results: list[VariantResult] = []
    baseline = base_out = base_pred = base_rows = None
    for name in names:
        progress.stage(f"quantizing and measuring {name}")
        method = _method_or_reason(name)
        reason = method if isinstance(method, str) else method.unavailable_reason(model_kind)
        if reason:
            results.append(VariantResult(name, available=False, reason=reason))
            continue
        started = time.perf_counter()
        path = None
        try:
            with quiet_warnings():
                torch.manual_seed(seed)  # calibration/QAT order: the same figures for the same seed
                variant = method.apply(ctx)
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
                path.unlink(missing_ok=True)  # no artifact for a variant the report calls unavailable
            # One method's bug or missing kernel must not cost the user every other variant's figures.
            results.append(VariantResult(name, available=False, reason=_reason(e, MethodUnavailable)))
            continue
        if baseline is None:
            baseline, base_out = variant, outputs
            base_pred = _predictions(outputs)
        result = _result(name, variant, path, outputs, base_out, base_pred, evaluation, metric, latencies,
                         quantize_s)
        rows = _row_scores(outputs, base_out, evaluation, metric)
        if baseline is variant:
            base_rows = rows
        if rows is not None and base_rows is not None:
            from quantrack.evaluate.stats import paired_stats

            # Intervals at `confidence`; with None (point estimates decide) they are still shown, at 95 %.
            result.stats = paired_stats(base_rows, None if baseline is variant else rows,
                                        confidence=confidence or 0.95, seed=seed)
        result.why = explain(name, latencies, (env or {}).get("cpu", {}), baseline.params)
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
                         payload_bytes=variant.payload_bytes, file_bytes=path.stat().st_size, artifact=path.name,
                         latency=latencies, seconds_to_quantize=round(quantize_s, 4), confusion=confusion,
                         float_layers=getattr(variant, "float_layers", None),
                         runtime=getattr(variant, "runtime", None),
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


def _track(report: Report, tracking: bool | str, experiment: str, out) -> None:
    """One MLflow run holding the comparison's options, each variant's figures and the report files."""
    import os

    from quantrack.tracking.tracker import Tracker

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # restored when compare returns
    tracker = Tracker(None if tracking is True else tracking, experiment)
    tracker.check()
    tracker.start(None, report.config, tags={"quantrack.kind": "compare"})
    try:
        from quantrack.evaluate.hardware import mlflow_tags
        from quantrack.tracking.variant_runs import note

        tracker.log_children(report)
        track_sensitivity(tracker, report)  # one child run per variant, with the same metric names (as `quantrack run`)
        tracker.set_tags({"champion": report.champion, "champion_reason": report.champion_reason,
                          "champion_rule": report.champion_rule, "mlflow.note.content": note(report),
                          **mlflow_tags(report.environment["cpu"])})
        with contextlib.ExitStack() as stack:
            folder = Path(out) if out is not None else Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="quantrack-report-")))
            files = report.save(folder) if out is None else [folder / n for n in ("report.json", "report.md",
                                                                                  "report.html")]
            for f in files:
                if f.exists():
                    tracker.log_artifact(f, str(Path("report", f.relative_to(folder).parent)))
        tracker.end("FINISHED")
    except BaseException:
        tracker.fail()
        raise
    report.mlflow = tracker.info


def track_sensitivity(tracker, report: Report) -> None:
    """The per-layer table as an artifact (sensitivity.json) and one metric per layer."""
    if not report.sensitivity:
        return
    import json

    from quantrack.report.sensitivity import sensitivity_metrics

    tracker.log_metrics(sensitivity_metrics(report))
    with tempfile.TemporaryDirectory(prefix="quantrack-sensitivity-") as d:
        path = Path(d) / "sensitivity.json"
        path.write_text(json.dumps({"sensitivity": report.sensitivity, "cost": report.sensitivity_cost}, indent=1),
                        encoding="utf-8")
        tracker.log_artifact(path, "report")
