"""What ``compare`` and ``pipeline.run`` need from an experiment tracker: one run, its params,
metrics, tags, artifacts and the variants as child runs.

A Protocol in the leaf, so neither needs MLflow to be importable to be tested:
``quantrack.tracking.tracker.Tracker`` (MLflow, with its spool for a lost server) and
``quantrack.tracking.memory.MemoryTracker`` (a dict, for tests) implement it, and
tests/tracking/test_tracker_contract.py holds both to the same checks. What a Report becomes in a
run (which tags, which artifacts) is decided once, in ``quantrack.tracking.report_run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class RunTracker(Protocol):
    run_id: str | None
    offline_reason: str | None  # why the server is not being reached (None: online)
    spooled_to: Path | None  # where an offline run was kept for `quantrack sync`
    aliases: dict[str, Any] | None  # the registry's alias decision, once registered

    @property
    def online(self) -> bool: ...

    @property
    def info(self) -> dict[str, str | None]:
        """tracking_uri (credentials redacted), experiment_id, run_id: what report.json records."""

    def check(self) -> None:
        """Fail fast, in one line (TrackingError), when the store cannot be used."""

    def start(self, run_name: str | None, params: dict[str, Any], tags: dict[str, str] | None = None) -> str: ...

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        """Buffered; None values are skipped. ``flush`` sends them."""

    def flush(self) -> None: ...

    def set_tags(self, tags: dict[str, Any]) -> None: ...

    def log_dataset(self, name: str, fingerprint: dict[str, Any], feature_names: list[str],
                    context: str = "training") -> str | None:
        """The run's input table; returns a line for the user when its schema had to be shortened."""

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None: ...

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None: ...

    def log_children(self, report: Any) -> None:
        """Each variant of ``report`` as a child run with the same metric names."""

    def relocate(self, old: Path, new: Path) -> None:
        """The run's output folder was renamed: artifacts logged from it are found under ``new``."""

    def mark_dead_runs(self, spool_root: Path) -> list[str]:
        """Runs a killed quantrack left RUNNING in this experiment, now marked KILLED; their names."""

    def register(self, intent: dict[str, Any]) -> dict[str, str]:
        """Register the intent's model versions ({variant: version}); undone by ``unregister``."""

    def unregister(self) -> str | None: ...

    def end(self, status: str = "FINISHED", spool_root: Path | None = None) -> str:
        """'sent', or 'spooled' when the server stayed unreachable."""

    def fail(self, spool_root: Path | None = None) -> None: ...
