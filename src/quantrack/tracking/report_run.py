"""What a Report becomes in a tracked run: decided here, once, for ``compare`` and ``quantrack run``.

Into the run a tracker holds open: each variant as a child run (variant_runs.py), the per-layer
sensitivity (one metric per layer and sensitivity.json), the champion and the CPU as tags, the
champion line as the run's description, the report files and the variants' saved files as
artifacts. Nothing here imports MLflow: it speaks to any :class:`quantrack.core.tracking.RunTracker`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quantrack.core.tracking import RunTracker
from quantrack.tracking.variant_runs import note

REPORT_ARTIFACTS = "report"  # artifact folder of report.json/.md/.html and plots/
MODELS_ARTIFACTS = "models"  # artifact folder of the variants' saved files


def cpu_tags(cpu: dict[str, Any]) -> dict[str, str]:
    """The CPU facts as run tags (``cpu.flags``, ``cpu.quantized_engine``...), lists comma-joined."""
    return {f"cpu.{k}": ",".join(v) if isinstance(v, list) else str(v) for k, v in cpu.items() if v is not None}


def sensitivity_metrics(report) -> dict[str, float]:
    """One metric per layer: sensitivity.<method>.<layer>.drop."""
    return {f"sensitivity.{m}.{r['layer']}.drop": float(r["drop"]) for m, rows in report.sensitivity.items()
            for r in rows}


def champion_tags(report) -> dict[str, str]:
    return {"champion": report.champion, "champion_reason": report.champion_reason,
            "champion_rule": report.champion_rule, "mlflow.note.content": note(report),
            **cpu_tags(report.environment.get("cpu") or {})}


def log_report(tracker: RunTracker, report, folder: Path, files: Sequence[Path], models_dir: Path | None = None) -> None:
    """Log ``report`` (written as ``files`` under ``folder``) into the tracker's open run."""
    log_results(tracker, report)
    log_files(tracker, folder, files, models_dir)


def log_results(tracker: RunTracker, report) -> None:
    """What needs no file: the variants as child runs, the sensitivity, the champion and CPU tags."""
    tracker.log_children(report)
    log_sensitivity(tracker, report)
    tracker.set_tags(champion_tags(report))


def log_files(tracker: RunTracker, folder: Path, files: Sequence[Path], models_dir: Path | None = None) -> None:
    """The report files (as ``report/...``, keeping report.md's relative links to plots/ valid) and the
    variants' saved files (as ``models/...``)."""
    for f in files:
        if Path(f).exists():
            tracker.log_artifact(f, str(Path(REPORT_ARTIFACTS, Path(f).relative_to(folder).parent)))
    if models_dir is not None and Path(models_dir).is_dir() and any(Path(models_dir).iterdir()):
        tracker.log_artifacts(models_dir, MODELS_ARTIFACTS)


def log_sensitivity(tracker: RunTracker, report) -> None:
    """The per-layer table as an artifact (sensitivity.json) and one metric per layer."""
    if not report.sensitivity:
        return
    tracker.log_metrics(sensitivity_metrics(report))
    with tempfile.TemporaryDirectory(prefix="quantrack-sensitivity-") as d:
        path = Path(d) / "sensitivity.json"
        path.write_text(json.dumps({"sensitivity": report.sensitivity, "cost": report.sensitivity_cost}, indent=1),
                        encoding="utf-8")
        tracker.log_artifact(path, REPORT_ARTIFACTS)
