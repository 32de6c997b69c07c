"""A tracker that keeps the run in memory: what compare and ``quantrack run`` log, without a store.

It implements :class:`quantrack.core.tracking.RunTracker` as the MLflow Tracker does, as far as
a test can observe (tests/tracking/test_tracker_contract.py runs the same checks on both), and
imports no MLflow, so evaluate and pipeline tests need neither a store nor MLflow's ~2 s import.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from quantrack.errors import TrackingError
from quantrack.tracking.variant_runs import child_records


class MemoryTracker:
    """One run at a time: ``params``, ``metrics`` ({key: [(step, value)]}), ``tags``, ``artifacts``
    ([(local path, artifact path)]), ``datasets``, ``children`` ({variant: record}), ``status``."""

    def __init__(self, experiment: str = "quantrack") -> None:
        self.experiment_name = experiment
        self.experiment_id = "0"
        self.tracking_uri = "memory:"
        self.run_id: str | None = None
        self.offline_reason: str | None = None
        self.spooled_to: Path | None = None
        self.aliases: dict[str, Any] | None = None
        self.params: dict[str, str] = {}
        self.metrics: dict[str, list[tuple[int, float]]] = {}
        self.tags: dict[str, str] = {}
        self.artifacts: list[tuple[str, str | None]] = []
        self.datasets: list[tuple[str, dict[str, Any], list[str], str]] = []
        self.children: dict[str, dict[str, Any]] = {}
        self.registered: dict[str, Any] | None = None
        self.status: str | None = None
        self._pending: list[tuple[str, float, int]] = []

    @property
    def online(self) -> bool:
        return self.offline_reason is None

    @property
    def info(self) -> dict[str, str | None]:
        return {"tracking_uri": self.tracking_uri, "experiment_id": self.experiment_id, "run_id": self.run_id}

    def check(self) -> None:
        pass

    def start(self, run_name: str | None, params: dict[str, Any], tags: dict[str, str] | None = None) -> str:
        if self.run_id is not None:
            raise TrackingError("this MemoryTracker already holds a run")
        self.run_id = uuid.uuid4().hex
        self.status = "RUNNING"
        self.tags.update({k: str(v) for k, v in (tags or {}).items()})
        if run_name:
            self.tags["mlflow.runName"] = run_name
        self.params.update({k: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
                            for k, v in params.items()})
        return self.run_id

    def _require_run(self) -> None:
        if self.run_id is None:
            raise TrackingError("no run started")

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        self._require_run()
        self._pending += [(k, float(v), int(step)) for k, v in metrics.items() if v is not None]

    def flush(self) -> None:
        for key, value, step in self._pending:
            self.metrics.setdefault(key, []).append((step, value))
        self._pending.clear()

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._require_run()
        self.tags.update({k: str(v) for k, v in tags.items()})

    def log_dataset(self, name: str, fingerprint: dict[str, Any], feature_names: list[str],
                    context: str = "training") -> str | None:
        self._require_run()
        self.datasets.append((name, dict(fingerprint), list(feature_names), context))
        return None

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        self._require_run()
        if not Path(local_path).is_file():
            raise TrackingError(f"no such file to log: {local_path}")
        self.artifacts.append((str(Path(local_path).resolve()), artifact_path))

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        self._require_run()
        root = Path(local_dir)
        if not root.is_dir():
            raise TrackingError(f"no such folder to log: {local_dir}")
        for f in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = f.relative_to(root).parent
            where = str(Path(artifact_path or "", rel)) if (artifact_path or str(rel) != ".") else None
            self.artifacts.append((str(f.resolve()), None if where in (None, ".") else where))

    def artifact_paths(self) -> set[str]:
        """Every artifact as MLflow lists it: ``<artifact path>/<file name>``."""
        return {str(Path(where or "", Path(local).name)) for local, where in self.artifacts}

    def relocate(self, old: Path, new: Path) -> None:
        old_s, new_s = str(Path(old).resolve()), str(Path(new).resolve())
        self.artifacts = [(new_s + p[len(old_s):] if p == old_s or p.startswith(old_s + os.sep) else p, a)
                          for p, a in self.artifacts]

    def log_children(self, report) -> None:
        self._require_run()
        self.children = {c["variant"]: c for c in child_records(report, {})}

    def mark_dead_runs(self, spool_root: Path) -> list[str]:
        return []

    def register(self, intent: dict[str, Any]) -> dict[str, str]:
        self._require_run()
        self.registered = intent
        return {e["variant"]: str(i + 1) for i, e in enumerate(intent.get("versions", []))}

    def unregister(self) -> str | None:
        self.registered = None
        return None

    def end(self, status: str = "FINISHED", spool_root: Path | None = None) -> str:
        if self.run_id is not None:
            if status == "FINISHED":
                self.flush()
            self.status = status
        return "sent"

    def fail(self, spool_root: Path | None = None) -> None:
        if self.run_id is not None:
            self.flush()
            self.status = "FAILED"
