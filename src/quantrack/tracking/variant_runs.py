"""Each variant as a child run of the training run, so MLflow's own views compare the variants.

MLflow's compare view, parallel coordinates and charts work across *runs*, and draw a chart
per metric name. So every variant gets a child run (tag ``mlflow.parentRunId``) with the same
metric names (``accuracy``, ``file_bytes``, ``p50_us``, ``speedup``... see :data:`METRICS`),
its verdict as a tag, and the parent keeps what belongs to training (losses per epoch, the
report, the models).

The children are plain records, journaled with the run, and :func:`upload_children` is
idempotent: an existing child (found by parent and variant) only receives what it lacks, so
a live run that lost its server half-way and ``quantrack sync`` later add up to exactly one
child per variant with each metric once.
"""

from __future__ import annotations

from typing import Any

from quantrack.core.results import MIN_CALLS_FOR_P99
from quantrack.methods import BASELINE

# figure -> VariantResult attribute. Latency figures: at the whole test split (the champion
# rule's batch) unsuffixed, and at batch 1 with ``_b1``.
_FIGURES = ("score", "accuracy", "agreement", "params", "payload_bytes", "file_bytes", "payload_ratio", "file_ratio",
            "seconds_to_quantize", "p_value")
_INTERVALS = ("accuracy_ci", "drop_ci")  # logged as <name>_lo and <name>_hi
_LATENCY = ("p50_us", "p90_us", "p99_us", "speedup", "baseline_p50_us")
METRICS = (*_FIGURES, *(f"{i}_{e}" for i in _INTERVALS for e in ("lo", "hi")), *_LATENCY,
           *(f"{f}_b1" for f in _LATENCY))
VARIANT_TAG = "quantrack.variant"
PARENT_TAG = "mlflow.parentRunId"


def child_records(report, base_tags: dict[str, str]) -> list[dict[str, Any]]:
    """One record per variant: run name, tags, params and metrics, in the report's order."""
    whole = report.batch_sizes[-1] if report.batch_sizes else None
    out = []
    for v in report.variants:
        tags = {**base_tags, VARIANT_TAG: v.name, "quantrack.champion": str(v.name == report.champion).lower()}
        metrics: dict[str, float] = {}
        if not v.available:
            tags.update({"verdict": "unavailable", "quantrack.reason": (v.reason or "")[:5000]})
        else:
            if v.runtime:  # what ran it: ORT's provider, OpenVINO's inference precision
                tags["quantrack.runtime"] = v.runtime[:5000]
            for key in _FIGURES:
                if getattr(v, key) is not None:
                    metrics[key] = float(getattr(v, key))
            for key in _INTERVALS:
                if (ci := getattr(v, key)) is not None:
                    metrics[f"{key}_lo"], metrics[f"{key}_hi"] = float(ci[0]), float(ci[1])
            if v.name == BASELINE:  # fp32 against itself: no drop, so every child charts the same names
                metrics.update(drop_ci_lo=0.0, drop_ci_hi=0.0, p_value=1.0)
            for lat in v.latency:
                suffix = "" if lat.batch_size == whole else "_b1" if lat.batch_size == 1 else None
                if suffix is None:
                    continue
                for key in _LATENCY:
                    val = getattr(lat, key)
                    if key == "p99_us" and lat.samples < MIN_CALLS_FOR_P99:
                        continue  # fewer calls: no percentile to speak of
                    if val is None and v.name == BASELINE:  # the baseline against itself: a value keeps
                        val = {"speedup": 1.0, "baseline_p50_us": lat.p50_us}.get(key)  # fp32 on every chart
                    if val is not None:
                        metrics[key + suffix] = float(val)
            whole_lat = v.latency_at(whole) if whole else None
            tags["verdict"] = (whole_lat.verdict or "baseline") if whole_lat else "–"
        params = {"method": v.name, "batch_size": str(whole), "threads": str(report.environment.get("threads"))}
        out.append({"variant": v.name, "run_name": v.name, "tags": tags, "params": params, "metrics": metrics})
    return out


def upload_children(client, experiment_id: str, parent_run_id: str, children: list[dict[str, Any]],
                    timestamp_ms: int) -> dict[str, str]:
    """Create or complete the child run of each record; return {variant: run id}. Safe to repeat."""
    from mlflow.entities import Metric, Param, RunTag

    existing = {}
    for run in client.search_runs([experiment_id], f"tags.`{PARENT_TAG}` = '{parent_run_id}'", max_results=1000):
        variant = run.data.tags.get(VARIANT_TAG)
        if variant and variant not in existing:
            existing[variant] = run
    ids = {}
    for child in children:
        tags = {**child["tags"], PARENT_TAG: parent_run_id}
        run = existing.get(child["variant"])
        if run is None:
            run = client.create_run(experiment_id, start_time=timestamp_ms, run_name=child["run_name"], tags=tags)
            have_metrics, have_params = set(), {}
        else:
            have_metrics, have_params = set(run.data.metrics), run.data.params
            client.log_batch(run.info.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
        rid = run.info.run_id
        metrics = [Metric(k, float(v), timestamp_ms, 0) for k, v in child["metrics"].items() if k not in have_metrics]
        params = [Param(k, str(v)) for k, v in child["params"].items() if k not in have_params]
        if metrics or params:
            client.log_batch(rid, metrics=metrics, params=params)
        client.set_terminated(rid, status="FINISHED", end_time=timestamp_ms)
        ids[child["variant"]] = rid
    return ids


def note(report) -> str:
    """The parent run's description (``mlflow.note.content``, Markdown): the champion line and the alias outcome."""
    lines = [f"**champion: {report.champion}** — {report.champion_reason}"]
    aliases = report.mlflow.get("aliases") or {}
    if report.registered_model and aliases.get("why"):
        lines.append(f"registry `{report.registered_model}`: {aliases['why']}")
    lines.append("Each variant is a child run with the same metric names: select them and *Compare*.")
    return "\n\n".join(lines)
