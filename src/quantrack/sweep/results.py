"""Plain records of a sweep: one per trial, one for the whole sweep (JSON in, JSON out)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FINISHED, FAILED, KILLED = "FINISHED", "FAILED", "KILLED"  # MLflow's run statuses


@dataclass
class Candidate:
    """One deployable variant of one trial: what the Pareto front and the champion compare."""

    trial: str
    variant: str
    accuracy: float
    file_bytes: int
    p50_us: float  # at the whole-test-split batch, timed under the node's timing gate
    p50_us_b1: float | None = None
    model_version: str | None = None

    @property
    def key(self) -> str:
        return f"{self.trial}/{self.variant}"


@dataclass
class TrialResult:
    name: str  # trial-000, ...: also the child run's name
    params: dict[str, str]  # the swept options' values (labels as given)
    status: str = FINISHED
    reason: str | None = None  # why it FAILED or was KILLED
    run_id: str | None = None
    seconds: float | None = None  # inside the trial: pipeline.run from call to return
    worker_peak_rss_mb: float | None = None  # the Ray worker process's peak RSS after the trial
    node: str | None = None  # the Ray node's IP
    champion: str | None = None  # the trial's own champion (as `quantrack run` names it)
    fp32_accuracy: float | None = None
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialResult:
        return cls(**{**d, "candidates": [Candidate(**c) for c in d.get("candidates", [])]})


@dataclass
class SweepResult:
    definition: dict[str, Any]  # search, samples, the space, the fixed options
    trials: list[TrialResult]
    ranking: list[str]  # trial names, best first (finished trials only)
    front: list[str]  # Candidate keys on the Pareto front
    champion: Candidate | None
    champion_reason: str
    registered_model: str | None = None
    alias_version: str | None = None
    parent_run_id: str | None = None
    tracking_uri: str | None = None
    timing: dict[str, float] = field(default_factory=dict)  # ray start, wall time, ...
    out_dir: str | None = None

    def trial(self, name: str) -> TrialResult | None:
        return next((t for t in self.trials if t.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepResult:
        champ = d.get("champion")
        return cls(**{**d, "trials": [TrialResult.from_dict(t) for t in d["trials"]],
                      "champion": Candidate(**champ) if champ else None})
