"""run(config) -> Report: data -> model -> train -> every variant -> measure -> choose -> report.

Everything that can be checked is checked before the MLflow run starts, so bad input
leaves nothing behind; after it starts, any error marks the run FAILED and removes the
half-written output directory.
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import time
import warnings
from collections.abc import Collection
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from quantrack.config import RunConfig
from quantrack.errors import QuantrackError, first_line
from quantrack.evaluate.results import Report, VariantResult


class Progress(Protocol):
    def stage(self, text: str) -> None: ...
    def notice(self, text: str) -> None: ...
    def epoch(self, epoch: int, epochs: int, train_loss: float, test_loss: float) -> None: ...


class TimingGate(Protocol):
    """A zero-argument callable returning a context manager (see sweep/gate.py)."""

    def __call__(self) -> contextlib.AbstractContextManager: ...


class NoProgress:
    def stage(self, text: str) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def epoch(self, epoch: int, epochs: int, train_loss: float, test_loss: float) -> None:
        pass


def run(config: RunConfig, progress: Progress | None = None, *, parent_run_id: str | None = None,
        timing_gate: TimingGate | None = None) -> Report:
    """``parent_run_id`` makes the run a child run (a sweep's trial); ``timing_gate`` is entered around
    each latency measurement, so concurrent runs on one machine never time inference at once."""
    progress = progress or NoProgress()
    if config.register:
        from quantrack.mlflow_models.registration import check_model_name

        check_model_name(config.registered_model_name)
    from quantrack.tracking.tracker import Tracker

    progress.stage("connecting to MLflow")
    _open_sqlite_store_while_importing(config.tracking_uri)
    # Before any data or training: a missing server or a wrong password fails in seconds.
    tracker = Tracker(config.tracking_uri, config.experiment)
    tracker.check()
    from quantrack.report.plot_worker import PlotWorker

    plotter = PlotWorker()  # started now, so its matplotlib import overlaps ours of torch
    try:
        return _run_checked(config, tracker, plotter, progress, parent_run_id=parent_run_id,
                            timing_gate=timing_gate or contextlib.nullcontext)
    finally:
        plotter.close()


def _open_sqlite_store_while_importing(tracking_uri: str | None) -> None:
    """In a fresh process, a child opens (creates) a SQLite store while we import torch and MLflow."""
    import os
    import sys

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not _store_child_helps(sys.modules.keys(), cores):
        return
    from quantrack.tracking.sqlite_store import StoreWarmup

    store = StoreWarmup(tracking_uri)
    try:
        if store.started:
            import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
            import torch  # noqa: F401

            store.wait()
    finally:
        store.close()


def _store_child_helps(imported: Collection[str], cores: int) -> bool:
    """Only a cold process with a second core gains: it has ~3 s of imports to overlap with the
    child's ~3 s. A warm one (a test suite, a notebook calling run() again) creates the store
    itself in ~1.2 s, and on one core the child's own ~1.6 s of imports would be pure cost.
    """
    return cores >= 2 and not {"torch", "mlflow.store.tracking.sqlalchemy_store"} & set(imported)


def _run_checked(config: RunConfig, tracker, plotter, progress: Progress, *, parent_run_id: str | None = None,
                 timing_gate: TimingGate = contextlib.nullcontext) -> Report:
    from quantrack.data.load import load_table
    from quantrack.data.prepare import prepare
    from quantrack.models import build_model

    progress.stage(f"loading {config.dataset}")
    data = prepare(load_table(config.dataset, target=config.target, impute=config.impute),
                   test_size=config.test_size, seed=config.seed)
    import torch

    torch.manual_seed(config.seed)  # the initial weights too, so a seed reproduces the whole run
    model = build_model(config.model, data.n_features, data.n_classes, config.hidden, data.image_shape)

    out_root = Path(config.out)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise QuantrackError(f"cannot create the output directory {out_root}: {e.strerror}") from None
    spool_root = out_root / "spool"  # runs whose server was gone at the end; see spool.py
    staging = out_root / f".partial-{time.strftime('%Y%m%d-%H%M%S')}-{id(tracker):x}"
    try:
        tags = _data_tags(data.fingerprint)
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id  # MLflow's own link: the UI nests the run under it
        tracker.start(config.run_name, _params(config), tags=tags)
        tracker.log_dataset(data.name, data.fingerprint, data.feature_names)
        staging.mkdir(parents=True, exist_ok=False)
        final = out_root / f"{time.strftime('%Y%m%d-%H%M%S')}-{data.name}-{config.model}-{tracker.run_id[:8]}"
        report = _run_tracked(config, data, model, tracker, plotter, staging, progress, final_dir=final,
                              timing_gate=timing_gate)
        staging.rename(final)
        tracker.relocate(staging, final)
        if tracker.end("FINISHED", spool_root=spool_root) == "spooled":
            progress.notice(f"MLflow server still unreachable ({tracker.offline_reason}): the whole run is saved in "
                           f"{tracker.spooled_to}; upload it later with `quantrack sync --out {out_root}`")
            report.mlflow["spooled_to"] = str(tracker.spooled_to)
        return report
    except BaseException:
        plotter.close()  # first: it may still be drawing into the folder removed below
        tracker.fail(spool_root)
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _params(config: RunConfig) -> dict[str, Any]:
    from quantrack.tracking.connection import redact

    params = config.to_dict()
    params["tracking_uri"] = redact(params["tracking_uri"])  # a URI may embed user:password
    params["methods"] = ",".join(config.method_list)
    return params


def _data_tags(fp: dict[str, Any]) -> dict[str, str]:
    return {"data.sha256": fp["sha256"], "data.source": fp["source"], "data.rows": str(fp["rows"]),
            "data.columns": str(fp["columns"])}


def _run_tracked(config: RunConfig, data, model, tracker, plotter, out_dir: Path, progress: Progress,
                 final_dir: Path, timing_gate: TimingGate = contextlib.nullcontext) -> Report:
    import torch

    from quantrack.training import train

    def on_epoch(epoch: int, train_loss: float, test_loss: float) -> None:
        tracker.log_metrics({"train_loss": train_loss, "test_loss": test_loss}, step=epoch)
        progress.epoch(epoch, config.epochs, train_loss, test_loss)

    progress.stage("training")
    torch.set_num_threads(config.threads)
    result = train(model, data.X_train, data.y_train, data.X_test, data.y_test, epochs=config.epochs,
                   lr=config.lr, batch_size=config.batch_size, seed=config.seed, on_epoch=on_epoch)
    tracker.log_metrics({"best_epoch": result.best_epoch, "best_test_loss": result.best_test_loss,
                         "train_seconds": result.seconds})
    tracker.flush()
    if not tracker.online:
        progress.notice(f"MLflow server unreachable ({tracker.offline_reason}); going on, the run is kept locally")

    variants = _variants(config, data, model, out_dir, progress, timing_gate=timing_gate)
    from quantrack.evaluate.champion import choose_champion

    batch_sizes = [1, len(data.X_test)]
    champion, why = choose_champion(variants, max_accuracy_drop=config.max_accuracy_drop, prefer=config.prefer,
                                    batch_size=batch_sizes[-1])
    report = Report(
        config=_params(config), dataset={"name": data.name, **data.fingerprint}, best_epoch=result.best_epoch,
        train_seconds=round(result.seconds, 4), train_loss=result.train_losses, test_loss=result.test_losses,
        variants=variants, champion=champion, champion_reason=why, class_names=data.class_names,
        batch_sizes=batch_sizes, mlflow=tracker.info, environment=_environment(config), out_dir=str(final_dir),
        registered_model=config.registered_model_name if config.register else None,
    )
    from quantrack.report.writers import PLOTS_DIR, write_all

    plotter.submit(report, out_dir / PLOTS_DIR)  # the figures need no registry facts: drawn meanwhile
    if config.register:
        progress.stage(f"registering the variants as {config.registered_model_name}")
        from quantrack.mlflow_models.registration import PYFUNC_DIR, build_models

        intent = build_models(config, data, variants, out_dir / "models", out_dir / PYFUNC_DIR, champion,
                              config.max_accuracy_drop)
        tracker.log_artifacts(out_dir / PYFUNC_DIR, PYFUNC_DIR)
        versions = tracker.register(intent)
        report.mlflow.update(model_versions=versions, alias=intent["alias"],
                             alias_version=versions.get(champion) if intent["alias"] else None)
    progress.stage("writing the report")
    files = write_all(report, out_dir, plots=plotter.result())
    tracker.log_metrics(_variant_metrics(variants))
    tracker.set_tags({"champion": champion, "champion_reason": why})
    for f in files:  # keep report.md's relative links (plots/*.png) valid among the artifacts
        tracker.log_artifact(f, str(Path("report", f.relative_to(out_dir).parent)))
    tracker.log_artifacts(out_dir / "models", "models")
    return report


def _variants(config: RunConfig, data, model, out_dir: Path, progress: Progress,
              timing_gate: TimingGate = contextlib.nullcontext) -> list[VariantResult]:
    from quantrack.evaluate.timing import accuracy, agreement, thread_limit
    from quantrack.quantize.base import MethodUnavailable, QuantContext
    from quantrack.quantize.fp32 import fp32_variant

    models_dir = out_dir / "models"
    models_dir.mkdir()
    ctx = QuantContext(model=model, model_kind=config.model, X_train=data.X_train, y_train=data.y_train,
                       lr=config.lr, batch_size=config.batch_size, seed=config.seed, threads=config.threads)
    batch_sizes = [1, len(data.X_test)]
    fp32 = fp32_variant(model)
    results: list[VariantResult] = []
    base_pred = None
    for name in ["fp32", *config.method_list]:
        progress.stage(f"quantizing and measuring {name}")
        started = time.perf_counter()
        if name == "fp32":
            variant = fp32
        else:
            method = _method_or_reason(name)
            reason = method if isinstance(method, str) else method.unavailable_reason(config.model)
            if reason:
                results.append(VariantResult(name, available=False, reason=reason))
                continue
        path = None
        try:
            if name != "fp32":
                with warnings.catch_warnings(), thread_limit(config.threads):
                    warnings.simplefilter("ignore")  # deprecation notices of torch.ao and friends
                    variant = method.apply(ctx)
            quantize_s = time.perf_counter() - started
            path = variant.save(models_dir)
            with thread_limit(config.threads):
                pred = variant.predict(data.X_test)
                latencies = []
                for bs in batch_sizes:
                    with timing_gate():
                        latencies.append(_latency(variant, fp32, data.X_test[:bs], bs, config))
        except Exception as e:
            if name == "fp32":
                raise
            if path is not None:
                path.unlink(missing_ok=True)  # no artifact for a variant the report calls unavailable
            # One method's bug or missing kernel must not cost the user every other variant's figures.
            if isinstance(e, MethodUnavailable):
                reason = first_line(e)
            elif isinstance(e, ImportError):
                reason = f"cannot import its libraries: {first_line(e)}"
            else:
                reason = f"failed: {type(e).__name__}: {first_line(e)}"
            results.append(VariantResult(name, available=False, reason=reason))
            continue
        if base_pred is None:
            base_pred = pred
        results.append(VariantResult(
            name=name, accuracy=accuracy(pred, data.y_test), agreement=agreement(pred, base_pred),
            params=variant.params, payload_bytes=variant.payload_bytes, file_bytes=path.stat().st_size,
            artifact=path.name, latency=latencies, seconds_to_quantize=round(quantize_s, 4),
            confusion=_confusion(data.y_test, pred, data.n_classes),
        ))
    fp32 = results[0]
    for r in results:
        if r.available:
            r.payload_ratio = round(r.payload_bytes / fp32.payload_bytes, 4)
            r.file_ratio = round(r.file_bytes / fp32.file_bytes, 4)
    return results


def _method_or_reason(name: str):
    """The registered method, or why it cannot even be imported here (a missing package)."""
    from quantrack.quantize import get_method

    try:
        return get_method(name)
    except ImportError as e:
        return f"cannot import its libraries: {first_line(e)}"


def _latency(variant, fp32, x: np.ndarray, batch_size: int, config: RunConfig):
    """fp32 alone; any other variant side by side with fp32 (measure.time_against)."""
    from quantrack.evaluate.timing import time_against, time_calls

    with contextlib.ExitStack() as stack:
        stack.enter_context(fp32.inference_context())
        if variant is fp32:
            # min_time_s: a few-µs call needs 50 ms of samples, not 30 calls, to count as settled.
            return time_calls(fp32.runner(x), threads=config.threads, batch_size=batch_size,
                              budget_s=config.latency_budget_s, min_time_s=0.05)
        stack.enter_context(variant.inference_context())
        return time_against(variant.runner(x), fp32.runner(x), threads=config.threads, batch_size=batch_size,
                            budget_s=config.latency_budget_s)


def _confusion(truth: np.ndarray, pred: np.ndarray, n_classes: int) -> list[list[int]]:
    """Rows: true class, columns: predicted (sklearn's layout; importing sklearn.metrics costs ~0.5 s)."""
    counts = np.bincount(np.asarray(truth) * n_classes + np.asarray(pred), minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).tolist()


def _variant_metrics(variants: list[VariantResult]) -> dict[str, float]:
    """Each variant's figures as MLflow metrics named <variant>.<figure>."""
    out: dict[str, float] = {}
    for v in variants:
        if not v.available:
            continue
        for key in ("accuracy", "agreement", "params", "payload_bytes", "file_bytes", "file_ratio"):
            val = getattr(v, key)
            if val is not None:
                out[f"{v.name}.{key}"] = float(val)
        for lat in v.latency:
            for fig in ("p50_us", "p90_us", "p99_us", "speedup"):
                val = getattr(lat, fig)
                if val is not None:
                    out[f"{v.name}.latency_b{lat.batch_size}_{fig}"] = float(val)
    return out


def _environment(config: RunConfig) -> dict[str, Any]:
    import os

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpus": os.cpu_count(), "threads": config.threads}
