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


def run_name(report) -> str:
    """What ran, for MLflow's run lists: "digits-logreg", or the user's model ("compare OnnxModel")."""
    if report.dataset or "model" in report.config:
        return f"{report.dataset.get('name')}-{report.config.get('model')}"
    return f"compare {report.model_summary.get('class', 'model')}"


def parent_metrics(report) -> dict[str, float]:
    """The champion's figures on the parent run, so the experiment's run list has columns worth showing."""
    champ = report.variant(report.champion)
    if champ is None or not champ.available:
        return {}
    whole = report.batch_sizes[-1] if report.batch_sizes else None
    lat = champ.latency_at(whole) if whole else None
    figures = {"champion_score": champ.score, "champion_accuracy": champ.accuracy,
               "champion_file_bytes": champ.file_bytes, "champion_file_ratio": champ.file_ratio,
               "champion_speedup": (lat.speedup if lat.speedup is not None else 1.0) if lat else None,
               "champion_drop_ci_hi": champ.drop_ci[1] if champ.drop_ci else None}
    return {k: float(v) for k, v in figures.items() if v is not None}


def score_text(report, v) -> str:
    """"accuracy 95.56% (92.90–97.25)", or a user's metric as it is, with its interval."""
    ci = v.accuracy_ci
    if report.score_name == "accuracy" and v.accuracy is not None:
        return f"accuracy {100 * v.accuracy:.2f}%" + (f" ({100 * ci[0]:.2f}–{100 * ci[1]:.2f})" if ci else "")
    if v.score is None:
        return f"{report.score_name} –"
    return f"{report.score_name} {v.score:.4f}" + (f" ({ci[0]:.4f}–{ci[1]:.4f})" if ci else "")


def speedup_text(report, v) -> str:
    """"1.38x [1.30–1.45] at batch 360, faster"; fp32 itself: "the baseline"."""
    whole = report.batch_sizes[-1] if report.batch_sizes else None
    lat = v.latency_at(whole) if whole else None
    if lat is None or lat.speedup is None:
        return "the baseline" if v.name == BASELINE else "not timed"
    ci = f" [{lat.speedup_ci[0]:.2f}–{lat.speedup_ci[1]:.2f}]" if lat.speedup_ci else ""
    return f"{lat.speedup:.2f}x{ci} at batch {whole}, {lat.verdict}"


def child_note(report, v) -> str:
    """A child run's description (Markdown): what the variant scored, weighs and gains, or why it did not run."""
    if not v.available:
        return f"**{v.name}** did not run: {v.reason}"
    if v.file_bytes is not None:
        size = f"file {v.file_bytes:,} B" + (f" ({v.file_ratio:.2f}x of fp32)" if v.file_ratio is not None else "")
    else:  # nothing saved (compare_lm measures the weights in memory)
        size = f"weights {v.payload_bytes:,} B" if v.payload_bytes is not None else "no size measured"
    lines = [f"**{v.name}**{' — the champion of this run' if v.name == report.champion else ''}: "
             f"{score_text(report, v)}; {size}; speed-up {speedup_text(report, v)}"]
    if v.why:
        lines.append(f"Why not faster: {v.why}")
    return "\n\n".join(lines)


def child_records(report, base_tags: dict[str, str]) -> list[dict[str, Any]]:
    """One record per variant: run name, tags, params, metrics and its real start and end, in the report's order."""
    whole = report.batch_sizes[-1] if report.batch_sizes else None
    parent = run_name(report)
    out = []
    for v in report.variants:
        tags = {**base_tags, VARIANT_TAG: v.name, "quantrack.champion": str(v.name == report.champion).lower(),
                "mlflow.note.content": child_note(report, v)}
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
            metrics.update(v.extra_metrics())
            whole_lat = v.latency_at(whole) if whole else None
            tags["verdict"] = (whole_lat.verdict or "baseline") if whole_lat else "–"
        params = {"method": v.name, "batch_size": str(whole), "threads": str(report.environment.get("threads"))}
        out.append({"variant": v.name, "run_name": f"{v.name} · {parent}", "tags": tags, "params": params,
                    "metrics": metrics, "start_time": v.started_ms, "end_time": v.ended_ms})
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
        # When the variant was measured; a record without times (a variant never started) gets the upload's.
        start = child.get("start_time") or timestamp_ms
        end = max(child.get("end_time") or timestamp_ms, start + 1)
        if run is None:
            run = client.create_run(experiment_id, start_time=start, run_name=child["run_name"], tags=tags)
            have_metrics, have_params = set(), {}
        else:
            have_metrics, have_params = set(run.data.metrics), run.data.params
            client.log_batch(run.info.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
        rid = run.info.run_id
        metrics = [Metric(k, float(v), end, 0) for k, v in child["metrics"].items() if k not in have_metrics]
        params = [Param(k, str(v)) for k, v in child["params"].items() if k not in have_params]
        if metrics or params:
            client.log_batch(rid, metrics=metrics, params=params)
        client.set_terminated(rid, status="FINISHED", end_time=end)
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
