"""The result types: what a comparison measured, shared by evaluate, the report, tracking and the CLI.

Plain dataclasses in the leaf, so every package may import them and none has to import evaluate
(which measures them) or report (which writes them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from quantrack.core.stats import PairedStats


class Verdict(StrEnum):
    """A variant's speed against fp32, judged on the spread of side-by-side windows.

    A StrEnum: report.json and the tables hold the plain words, and old reports still compare equal.
    """

    FASTER = "faster"
    SLOWER = "slower"
    SAME = "no measurable difference"


FASTER, SLOWER, SAME = Verdict.FASTER, Verdict.SLOWER, Verdict.SAME
MIN_EFFECT = 0.05  # a speed-up smaller than 5 % is not worth a verdict, however steady
MIN_EFFECT_TEXT = f"{MIN_EFFECT:.0%}".replace("%", " %")  # "5 %": the rule as every report states it
MIN_CALLS_FOR_P99 = 100  # below this, "p99" is one of the few slowest calls, not a percentile


@dataclass
class Latency:
    batch_size: int
    threads: int
    samples: int
    p10_us: float
    p25_us: float
    p50_us: float
    p75_us: float
    p90_us: float
    p99_us: float
    stable: bool  # the median (against fp32: the speed-up) settled before the budget ran out
    speedup: float | None = None  # median over side-by-side windows of fp32 median / this median
    speedup_p25: float | None = None  # spread of those window ratios
    speedup_p75: float | None = None
    windows: int | None = None  # side-by-side windows measured against fp32
    verdict: str | None = None
    # fp32's percentiles from the same side-by-side windows, so a row's p50 columns and its verdict
    # describe the same moments (fp32's own row was timed alone, at another moment).
    baseline_samples: int | None = None
    baseline_p50_us: float | None = None
    baseline_p90_us: float | None = None
    baseline_p99_us: float | None = None
    # Distribution-free 95 % interval of the median window ratio (order statistics; stats.median_ci).
    speedup_ci: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)



# Report.champion_rule: what let the champion through (the fp32 baseline is shipped when nothing qualified)
CONFIDENT, POINT_ESTIMATE, SHIPPED_BASELINE = "confident", "point-estimate", "baseline"


@dataclass
class VariantResult:
    name: str
    available: bool = True
    reason: str | None = None  # why it is unavailable or does not apply
    score: float | None = None  # what the champion rule compares: accuracy, or the user's metric
    accuracy: float | None = None  # share of evaluation rows classified right (when there are labels)
    agreement: float | None = None  # share of test rows predicted like fp32
    params: int | None = None
    payload_bytes: int | None = None  # the assignment's formula: elements x stored bytes
    file_bytes: int | None = None  # the saved deployable artifact
    payload_ratio: float | None = None  # vs fp32
    file_ratio: float | None = None  # vs fp32
    artifact: str | None = None  # file name of the saved artifact
    latency: list[Latency] = field(default_factory=list)
    seconds_to_quantize: float | None = None
    confusion: list[list[int]] | None = None
    float_layers: list[str] | None = None  # mixed precision: the layers left in float
    # Accuracy's interval and, against fp32 on the same rows, the paired drop and test (stats.paired_stats).
    stats: PairedStats | None = None
    # What ran it, where the backend can tell (ORT's execution provider, OpenVINO's inference precision,
    # torch "eager" or "inductor (torch.compile, freezing)").
    runtime: str | None = None
    recipe: dict[str, Any] | None = None  # the method's config with every per-graph default decided (report.json)
    why: str | None = None  # when a verdict is not "faster": the measured facts that explain it (hardware.py)
    # Seconds torch.compile took (inside seconds_to_quantize, which also counts quantizing): a cost of the
    # variant paid once per process, never inside its latency (compiled graphs are warmed up first).
    compile_seconds: float | None = None
    config: dict[str, Any] = field(default_factory=dict)  # the method's knobs it was made with (MethodConfig.to_dict)
    # When this variant was quantized, saved, scored and timed (ms since the epoch): its MLflow child run's times.
    started_ms: int | None = None
    ended_ms: int | None = None

    @property
    def accuracy_ci(self) -> tuple[float, float] | None:
        return self.stats.score_ci if self.stats else None

    @property
    def drop_ci(self) -> tuple[float, float] | None:
        """fp32's accuracy minus this variant's, as an interval (same units as accuracy)."""
        return self.stats.drop_ci if self.stats else None

    @property
    def p_value(self) -> float | None:
        return self.stats.p_value if self.stats else None

    def __post_init__(self) -> None:
        if self.score is None and self.accuracy is not None:  # scored by accuracy (and reports written before `score`)
            self.score = self.accuracy

    def extra_metrics(self) -> dict[str, float]:
        """Figures a kind of result adds to its MLflow child run (a language model's perplexity...)."""
        return {}

    def latency_at(self, batch_size: int) -> Latency | None:
        return next((lat for lat in self.latency if lat.batch_size == batch_size), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["latency"] = [lat.to_dict() for lat in self.latency]
        d["stats"] = self.stats.to_dict() if self.stats else None
        # Flat copies for other tools reading report.json (from_dict rebuilds them from "stats").
        d["accuracy_ci"] = list(self.accuracy_ci) if self.accuracy_ci else None
        d["drop_ci"] = list(self.drop_ci) if self.drop_ci else None
        d["p_value"] = self.p_value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VariantResult:
        d = {k: v for k, v in d.items() if k not in ("accuracy_ci", "drop_ci", "p_value")}
        stats = PairedStats.from_dict(d["stats"]) if d.get("stats") else None
        return cls(**{**d, "stats": stats, "latency": [Latency(**lat) for lat in d.get("latency", [])]})


@dataclass
class ReportData:
    """What a comparison found (the data; :class:`quantrack.report.document.Report` adds ``save``). ``compare()`` fills the variants, the champion and the measuring
    conditions; ``quantrack run`` adds its training (config, dataset, epochs, losses, MLflow)."""

    variants: list[VariantResult]
    champion: str
    champion_reason: str
    score_name: str = "accuracy"  # accuracy, or the name of the user's metric
    max_drop: float | None = None  # the champion budget, in the score's units
    prefer: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    best_epoch: int | None = None
    train_seconds: float | None = None
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    mlflow: dict[str, Any] = field(default_factory=dict)
    registered_model: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    out_dir: str | None = None
    model_summary: dict[str, Any] = field(default_factory=dict)
    split: dict[str, int] = field(default_factory=dict)  # {"train": n, "val": n, "test": n} rows
    champion_rule: str = SHIPPED_BASELINE  # CONFIDENT, POINT_ESTIMATE or SHIPPED_BASELINE
    val_loss: list[float] = field(default_factory=list)  # per epoch, when the checkpoint is chosen on validation
    # per-layer drop when quantized alone: {method: [{"layer", "params", "drop", "kept_float"}]}, largest first
    sensitivity: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sensitivity_cost: dict[str, dict[str, Any]] = field(default_factory=dict)  # evaluations, seconds, rows
    # The Budget the champion was decided with (Budget.to_dict: max_drop in the score's units, confidence, prefer,
    # score_name); max_drop and prefer above repeat it for readers of older reports.
    budget: dict[str, Any] = field(default_factory=dict)
    # quantrack.search: trials, selection/held-out rows, Pareto front, why it stopped (empty for compare)
    search: dict[str, Any] = field(default_factory=dict)

    def variant(self, name: str) -> VariantResult | None:
        return next((v for v in self.variants if v.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The report.json form (JSON-serialisable)."""
        d = asdict(self)
        d["variants"] = [v.to_dict() for v in self.variants]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReportData:
        """The inverse of to_dict (report.json back into a Report)."""
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in known},
                      "variants": [VariantResult.from_dict(v) for v in d["variants"]]})
