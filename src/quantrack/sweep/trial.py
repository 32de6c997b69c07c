"""What one trial does, inside a Ray worker: one ``pipeline.run`` as a child run of the sweep.

Nothing here reads or writes a path only the driver sees: a data file arrives as bytes through
Ray's object store and is written to the worker's own temporary folder; the trial's ``--out``
is a temporary folder on the worker, removed at the end; everything the trial produces (params,
loss curves, figures, report files, models, registered versions) goes to MLflow. Tune gets a
small JSON summary back, for ranking and for Optuna.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from quantrack.errors import first_line
from quantrack.sweep.results import FAILED, KILLED, Candidate, TrialResult
from quantrack.tracking.trial_runs import mark_failed

# The objectives Tune (and Optuna) see, from the trial's own champion.
OBJECTIVES = {"accuracy": "max", "latency_us": "min", "size_bytes": "min"}


def trial_name(trial_id: str) -> str:
    """Tune's trial id ends in a zero-padded counter (``a1b2c_00003``): ``trial-003``. Under a search
    algorithm (Optuna) ids are bare hex with no counter: ``trial-<id>``."""
    tail = trial_id.rsplit("_", 1)[-1]
    return f"trial-{int(tail):03d}" if tail.isdigit() else f"trial-{trial_id}"


def sweep_work_dir(parent_run_id: str) -> Path:
    """Where a sweep's trials work on a node: one folder per sweep, so that the driver can remove what
    trials killed mid-way (Ctrl-C) could not remove themselves."""
    return Path(tempfile.gettempdir()) / f"quantrack-sweep-{parent_run_id}"


def combo_of(tune_config: dict[str, Any]) -> dict[str, str]:
    """Grid and random sweeps pass a whole combination; Optuna passes one value per option."""
    return dict(tune_config["combo"]) if "combo" in tune_config else dict(tune_config)


def run_trial(tune_config: dict[str, Any], *, base: dict[str, Any], parent_run_id: str, gate: Any,
              data: tuple[str, bytes] | None = None, spool_root: str | None = None) -> None:
    """Tune's function trainable (bound with ``tune.with_parameters``, which ships ``data`` through
    the object store). Raises on failure, after marking the child run FAILED with its reason."""
    import resource

    import ray
    from ray import tune

    # A worker of a cluster started elsewhere did not come through quantrack's CLI.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    name = trial_name(tune.get_context().get_trial_id())
    combo = combo_of(tune_config)
    folder = sweep_work_dir(parent_run_id)
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=folder))
    started = time.perf_counter()
    try:
        values = dict(base, **combo, out=str(work / "out"), run_name=name)
        if data is not None:
            file_name, blob = data
            (work / "data").mkdir()
            path = work / "data" / file_name  # same file name: same dataset label as on the driver
            path.write_bytes(blob)
            values["dataset"] = str(path)
        try:
            from quantrack import pipeline
            from quantrack.config import build_config

            report = pipeline.run(build_config(None, **values), parent_run_id=parent_run_id, timing_gate=gate)
        except BaseException as e:
            # Ctrl-C at a terminal reaches the workers too: their runs are KILLED, not FAILED.
            interrupted = isinstance(e, KeyboardInterrupt)
            reason = "interrupted (Ctrl-C)" if interrupted else f"{type(e).__name__}: {first_line(e)}"
            mark_failed(base.get("tracking_uri"), base.get("experiment", "quantrack"), parent_run_id, name, reason,
                        status=KILLED if interrupted else FAILED)
            raise
        seconds = time.perf_counter() - started
        if report.mlflow.get("spooled_to"):
            raise RuntimeError(_keep_spool(Path(report.mlflow["spooled_to"]), Path(spool_root or "runs/spool")))
        result = summarize(report, name, combo, seconds)
        result.worker_peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result.node = ray.util.get_node_ip_address()
        champ = next(c for c in result.candidates if c.variant == result.champion)
        tune.report({"accuracy": champ.accuracy, "latency_us": champ.p50_us, "size_bytes": champ.file_bytes,
                     "trial_json": json.dumps(result.to_dict())})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _keep_spool(entry: Path, root: Path) -> str:
    """The server went away during the trial: its complete spool entry (self-contained, see
    tracking/spool.py) moves out of the temporary folder, to ``root`` on this node, for `quantrack sync`."""
    import ray

    dest = root / entry.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(entry), str(dest))
    return (f"MLflow server unreachable at the end of the trial: the whole run is spooled in {dest} on node "
            f"{ray.util.get_node_ip_address()}; upload it from there with `quantrack sync --out {root.parent}`")


def summarize(report, name: str, combo: dict[str, str], seconds: float) -> TrialResult:
    """The figures a sweep compares, from a trial's Report."""
    batch = report.batch_sizes[-1]
    versions = report.mlflow.get("model_versions") or {}
    candidates = []
    for v in report.variants:
        if not v.available or v.accuracy is None or v.file_bytes is None:
            continue
        lat, lat1 = v.latency_at(batch), v.latency_at(1)
        if lat is None:
            continue
        candidates.append(Candidate(trial=name, variant=v.name, accuracy=v.accuracy, file_bytes=v.file_bytes,
                                    p50_us=lat.p50_us, p50_us_b1=lat1.p50_us if lat1 else None,
                                    model_version=versions.get(v.name)))
    fp32 = report.variant("fp32")
    return TrialResult(name=name, params=combo, run_id=report.mlflow.get("run_id"), seconds=round(seconds, 3),
                       champion=report.champion, fp32_accuracy=fp32.accuracy if fp32 else None,
                       candidates=candidates)
