"""run(config) -> Report: data -> model -> train -> ``compare(..., tracker=...)`` -> registry.

One orchestration path: the Report ``compare`` returns (with this run's training facts added
before it is saved) is the one written and logged, by compare, through tracking/report_run.py;
this module adds what belongs to training (params, the dataset, the losses per epoch) and the
registry. It talks to a :class:`quantrack.core.tracking.RunTracker` (MLflow's Tracker by default,
``tracking.memory.MemoryTracker`` in tests), never to MLflow itself.

Everything that can be checked is checked before the run starts, so bad input leaves nothing
behind; after it starts, any error marks the run FAILED and removes the half-written output directory.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any, Protocol

from quantrack.config import RunConfig
from quantrack.core.tracking import RunTracker
from quantrack.errors import QuantrackError
from quantrack.report.document import Report


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
        timing_gate: TimingGate | None = None, tracker: RunTracker | None = None) -> Report:
    """``parent_run_id`` makes the run a child run (a sweep's trial); ``timing_gate`` is entered around
    each latency measurement, so concurrent runs on one machine never time inference at once.
    ``tracker``: where the run is logged (None: MLflow at ``config.tracking_uri``)."""
    progress = progress or NoProgress()
    if config.registers:
        from quantrack.mlflow_models.registration import check_model_name

        check_model_name(config.registered_model_name)
    # The data first, before torch or MLflow is imported: a wrong file, target or model/data
    # fit is refused in well under a second instead of after ~3 s of imports.
    progress.stage(f"loading {config.dataset}")
    data = load_data(config)
    if tracker is None:
        from quantrack.tracking.sqlite_store import warm_up_while_importing
        from quantrack.tracking.tracker import Tracker

        progress.stage("connecting to MLflow")
        warm_up_while_importing(config.tracking_uri)
        tracker = Tracker(config.tracking_uri, config.experiment)
    # Before any data or training: a missing server or a wrong password fails in seconds.
    tracker.check()
    from quantrack.report.plot_worker import PlotWorker

    plotter = PlotWorker()  # started now, so its matplotlib import overlaps ours of torch
    try:
        return _run_checked(config, data, tracker, plotter, progress, parent_run_id=parent_run_id,
                            timing_gate=timing_gate)
    finally:
        plotter.close()


def load_data(config: RunConfig):
    """The split, scaled data, checked against the model kind (no torch needed for either)."""
    from quantrack.data.load import load_table
    from quantrack.data.prepare import prepare
    from quantrack.data.table import BUNDLED, IMAGE_SETS

    if config.model == "cnn" and config.dataset in BUNDLED and config.dataset not in IMAGE_SETS:
        _refuse_cnn()  # known without loading (scikit-learn's import alone takes ~1.7 s)
    data = prepare(load_table(config.dataset, target=config.target, impute=config.impute),
                   test_size=config.test_size, seed=config.seed,
                   val_size=config.val_size if config.checkpoint_on == "val" else 0.0)
    if config.model == "cnn" and (data.image_shape is None or data.image_shape[0] != data.image_shape[1]):
        _refuse_cnn()
    return data


def _refuse_cnn() -> None:
    raise QuantrackError("--model cnn applies only to square image data (such as digits); this dataset is not images")


def _run_checked(config: RunConfig, data, tracker, plotter, progress: Progress, *, parent_run_id: str | None = None,
                 timing_gate: TimingGate | None = None) -> Report:
    import torch

    from quantrack.models import build_model

    torch.manual_seed(config.seed)  # the initial weights too, so a seed reproduces the whole run
    model = build_model(config.model, data.n_features, data.n_classes, config.hidden, data.image_shape)

    out_root = Path(config.out)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise QuantrackError(f"cannot create the output directory {out_root}: {e.strerror}") from None
    spool_root = out_root / "spool"  # runs whose server was gone at the end; see spool.py
    _clean_leftovers(tracker, out_root, spool_root, progress)
    from quantrack.tracking.leftovers import owner_suffix

    # The owner in the name: if this process is killed outright, the next run removes the folder.
    staging = out_root / f".partial-{time.strftime('%Y%m%d-%H%M%S')}-{id(tracker):x}{owner_suffix()}"
    try:
        tags = _data_tags(data.fingerprint)
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id  # MLflow's own link: the UI nests the run under it
        tracker.start(config.run_name, _mlflow_params(config), tags=tags)
        shortened = tracker.log_dataset(data.name, data.fingerprint, data.feature_names)
        if shortened:  # a very wide table: its schema is cut to MLflow's limit, and the user told
            progress.notice(shortened)
        staging.mkdir(parents=True, exist_ok=False)
        final = out_root / run_folder_name(time.strftime('%Y%m%d-%H%M%S'), data.name, config.model, tracker.run_id)
        report, intent = _run_tracked(config, data, model, tracker, plotter, staging, progress, final_dir=final,
                                      timing_gate=timing_gate)
        staging.rename(final)
        tracker.relocate(staging, final)
        staging = final  # from here on, a failure removes the run's folder under its final name
        if intent is not None:  # the registry changes last: every other step has succeeded
            _register(config, tracker, report, intent, final, progress)
        if tracker.end("FINISHED", spool_root=spool_root) == "spooled":
            progress.notice(f"MLflow server still unreachable ({tracker.offline_reason}): the whole run is saved in "
                           f"{tracker.spooled_to}; upload it later with `quantrack sync --out {out_root}`")
            report.mlflow["spooled_to"] = str(tracker.spooled_to)
        return report
    except BaseException:
        plotter.close()  # first: it may still be drawing into the folder removed below
        problem = tracker.unregister()  # versions this run created are deleted, aliases put back
        if problem:
            progress.notice(problem)
        tracker.fail(spool_root)
        shutil.rmtree(staging, ignore_errors=True)
        raise


def run_folder_name(stamp: str, dataset: str, model: str, run_id: str) -> str:
    """``<stamp>-<dataset>-<model>-<run id[:8]>``, the dataset's name shortened to fit one path component
    (a 240-character file stem would not); report.json and MLflow keep the full name."""
    from quantrack.core.names import folder_name

    return folder_name(f"{stamp}-", dataset, f"-{model}-{run_id[:8]}")


def _clean_leftovers(tracker, out_root: Path, spool_root: Path, progress: Progress) -> None:
    """Runs and unfinished folders a killed quantrack left in this store and --out (see leftovers.py)."""
    from quantrack.tracking.leftovers import clean_leftovers

    line = clean_leftovers(tracker, (out_root,), spool_root)
    if line:
        progress.notice(line)


def _params(config: RunConfig) -> dict[str, Any]:
    from quantrack.mlflow_models.connection import redact

    params = config.to_dict()
    params["tracking_uri"] = redact(params["tracking_uri"])  # a URI may embed user:password
    params["methods"] = ",".join(config.method_list)
    return params


def _mlflow_params(config: RunConfig) -> dict[str, Any]:
    """Only the options that apply to this run (no MLP sizes for logreg, nothing unset)."""
    return {k: v for k, v in _params(config).items() if k in config.applicable_params()}


def _data_tags(fp: dict[str, Any]) -> dict[str, str]:
    return {"data.sha256": fp["sha256"], "data.source": fp["source"], "data.rows": str(fp["rows"]),
            "data.columns": str(fp["columns"])}


def _run_tracked(config: RunConfig, data, model, tracker, plotter, out_dir: Path, progress: Progress,
                 final_dir: Path, timing_gate: TimingGate | None = None) -> tuple[Report, dict[str, Any] | None]:
    """Everything but the registry; returns the report and the registry intent (None: --register none)."""
    from quantrack.evaluate.timing import thread_limit
    from quantrack.training import train

    on = config.checkpoint_on  # the rows the checkpoint is chosen on: "val", or "test" as the assignment did

    def on_epoch(epoch: int, train_loss: float, held_out_loss: float) -> None:
        tracker.log_metrics({"train_loss": train_loss, f"{on}_loss": held_out_loss}, step=epoch)
        progress.epoch(epoch, config.epochs, train_loss, held_out_loss)

    progress.stage("training")
    X_check, y_check = (data.X_val, data.y_val) if on == "val" else (data.X_test, data.y_test)
    with thread_limit(config.threads):
        result = train(model, data.X_train, data.y_train, X_check, y_check, epochs=config.epochs,
                       lr=config.lr, batch_size=config.batch_size, seed=config.seed, on_epoch=on_epoch)
    tracker.log_metrics({"best_epoch": result.best_epoch, f"best_{on}_loss": result.best_test_loss,
                         "train_seconds": result.seconds})
    tracker.flush()
    if not tracker.online:
        progress.notice(f"MLflow server unreachable ({tracker.offline_reason}); going on, the run is kept locally")

    from quantrack.evaluate.compare import compare

    # The same function a library user calls, and the one that saves and logs the report.
    facts = {"config": _params(config), "dataset": {"name": data.name, **data.fingerprint},
             "best_epoch": result.best_epoch, "train_seconds": round(result.seconds, 4),
             "train_loss": result.train_losses, "test_loss": result.test_losses if on == "test" else [],
             "val_loss": result.test_losses if on == "val" else [], "split": data.split,
             "class_names": data.class_names, "out_dir": str(final_dir),
             "registered_model": config.registered_model_name if config.registers else None}
    report = compare(model, calibration=(data.X_train, data.y_train), eval_data=(data.X_test, data.y_test),
                     methods=config.method_list, budget=config.budget, batch_sizes=(1, len(data.X_test)),
                     threads=config.threads,
                     # One call over the test split, as a served model gets it: dynamic int8 scales its
                     # activations per call, so its predictions depend on how rows are batched.
                     eval_batch_size=len(data.X_test), latency_budget_s=config.latency_budget_s,
                     out=out_dir, artifacts=out_dir / "models", configs=_method_configs(config), seed=config.seed,
                     progress=progress, model_kind=config.model, timing_gate=timing_gate,
                     sensitivity_rows=config.sensitivity_rows or None, tracker=tracker, facts=facts,
                     plot_worker=plotter)
    intent = None
    if config.registers:  # packaged and uploaded now; registered by the caller, after everything else
        progress.stage("packaging the variants for the registry")
        from quantrack.mlflow_models.registration import PYFUNC_DIR, build_models

        intent = build_models(config, data, report.variants, out_dir / "models", out_dir / PYFUNC_DIR,
                              report.champion, config.budget)
        tracker.log_artifacts(out_dir / PYFUNC_DIR, PYFUNC_DIR)
    return report, intent


def _method_configs(config: RunConfig) -> dict[str, Any]:
    """QAT fine-tunes with the run's --lr and --batch-size, as training does."""
    if "qat-int8" not in config.method_list:
        return {}
    from quantrack.methods.qat_int8 import QatConfig

    return {"qat-int8": QatConfig(lr=config.lr, batch_size=config.batch_size)}


def _register(config: RunConfig, tracker, report: Report, intent: dict[str, Any], run_dir: Path,
              progress: Progress) -> None:
    """The last step of a run: register the champion (or every variant), move the aliases, and add
    the versions to report.json (replaced whole, so it is never half-written). A failure here or
    later is undone by ``tracker.unregister()``."""
    import os

    from quantrack.report.writers import write_json

    progress.stage(f"registering {'the variants' if config.register == 'all' else report.champion} as "
                   f"{config.registered_model_name}")
    versions = tracker.register(intent)
    report.mlflow.update(model_versions=versions, aliases=tracker.aliases)
    from quantrack.tracking.report_run import REPORT_ARTIFACTS, champion_tags

    tracker.set_tags({k: v for k, v in champion_tags(report).items() if k == "mlflow.note.content"})  # the aliases
    tmp = write_json(report, run_dir / ".report.json.tmp")
    os.replace(tmp, run_dir / "report.json")
    tracker.log_artifact(run_dir / "report.json", REPORT_ARTIFACTS)
