"""Variants as child runs: one set of metric names for all, and an upload that is exact when repeated."""

from __future__ import annotations

from quantrack.tracking.variant_runs import METRICS, child_records, note, upload_children


def test_every_measured_variant_gets_the_same_metric_names(synthetic_report):
    records = {r["variant"]: r for r in child_records(synthetic_report, {"mlflow.user": "u"})}
    assert list(records) == ["fp32", "dynamic-int8", "onnx-int8-static"]
    assert set(records["fp32"]["metrics"]) == set(records["dynamic-int8"]["metrics"]) <= set(METRICS)
    assert records["dynamic-int8"]["metrics"]["speedup"] == synthetic_report.variant("dynamic-int8").latency[1].speedup
    assert records["dynamic-int8"]["metrics"]["p50_us_b1"] == 25.0 and records["dynamic-int8"]["metrics"]["p50_us"] == 35.0
    assert records["fp32"]["metrics"]["speedup"] == 1.0 and records["fp32"]["tags"]["verdict"] == "baseline"
    assert records["dynamic-int8"]["tags"]["verdict"] == "slower"
    assert records["dynamic-int8"]["tags"]["quantrack.champion"] == "true"
    assert records["onnx-int8-static"]["metrics"] == {}
    assert records["onnx-int8-static"]["tags"]["verdict"] == "unavailable"
    assert "calibration" in records["onnx-int8-static"]["tags"]["quantrack.reason"]
    assert all(r["tags"]["mlflow.user"] == "u" for r in records.values())


def test_the_note_is_the_champion_line(synthetic_report):
    synthetic_report.registered_model = "m"
    synthetic_report.mlflow["aliases"] = {"why": "@champion stays at version 1: it does not beat version 1"}
    text = note(synthetic_report)
    assert text.startswith("**champion: dynamic-int8** — smallest file")
    assert "registry `m`: @champion stays at version 1" in text


def test_a_half_uploaded_set_of_children_is_completed_exactly_once(synthetic_report, sqlite_uri):
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(sqlite_uri)
    exp = client.create_experiment("children")
    parent = client.create_run(exp).info.run_id
    records = child_records(synthetic_report, {})
    # As if the server went away after creating the first child and one of its metrics.
    first = client.create_run(exp, run_name="fp32", tags={"mlflow.parentRunId": parent, "quantrack.variant": "fp32"})
    client.log_batch(first.info.run_id, metrics=[Metric("accuracy", records[0]["metrics"]["accuracy"], 1000, 0)])

    for _ in range(2):  # the live attempt's replay, then a repeated sync
        ids = upload_children(client, exp, parent, records, 1000)
    assert ids["fp32"] == first.info.run_id
    runs = client.search_runs([exp], f"tags.`mlflow.parentRunId` = '{parent}'")
    assert sorted(r.data.tags["quantrack.variant"] for r in runs) == ["dynamic-int8", "fp32", "onnx-int8-static"]
    for r in runs:
        assert r.info.status == "FINISHED"
        for key in r.data.metrics:
            assert len(client.get_metric_history(r.info.run_id, key)) == 1, (r.data.tags["quantrack.variant"], key)
    fp32 = client.get_run(first.info.run_id)
    assert set(fp32.data.metrics) == set(records[0]["metrics"]) and fp32.data.params["method"] == "fp32"


def test_run_links_never_carry_credentials():
    from quantrack.tracking.mlflow_ui import run_link

    # ?workflowType=machine_learning: MLflow 3's UI opens the run as model training, not in GenAI mode
    assert run_link("https://user:secret@dagshub.com/u/r.mlflow", "3", "abc") == \
        "https://dagshub.com/u/r.mlflow/#/experiments/3/runs/abc?workflowType=machine_learning"
    assert run_link("http://127.0.0.1:5000/", "1", "abc") == \
        "http://127.0.0.1:5000/#/experiments/1/runs/abc?workflowType=machine_learning"
    assert run_link("sqlite:///mlflow.db", "1", "abc") == "runs:/abc"


def test_children_are_named_for_what_ran_and_keep_the_times_they_were_measured(synthetic_report, sqlite_uri):
    from mlflow.tracking import MlflowClient

    from quantrack.tracking.variant_runs import parent_metrics, run_name

    for i, v in enumerate(synthetic_report.variants):
        v.started_ms, v.ended_ms = 1_000_000 + 10_000 * i, 1_000_000 + 10_000 * i + 2_500
    client = MlflowClient(sqlite_uri)
    exp = client.create_experiment("timed")
    parent = client.create_run(exp).info.run_id
    ids = upload_children(client, exp, parent, child_records(synthetic_report, {}), 5_000_000)
    for i, v in enumerate(synthetic_report.variants):
        run = client.get_run(ids[v.name])
        assert (run.info.start_time, run.info.end_time) == (v.started_ms, v.ended_ms)
        assert run.info.run_name == f"{v.name} · {run_name(synthetic_report)}"
        assert run.data.tags["mlflow.note.content"].startswith(f"**{v.name}**")
    assert "digits" in run_name(synthetic_report)
    figures = parent_metrics(synthetic_report)
    champ = synthetic_report.variant(synthetic_report.champion)
    assert figures["champion_score"] == champ.score and figures["champion_file_bytes"] == champ.file_bytes
    assert figures["champion_speedup"] == champ.latency[-1].speedup
