"""The MLflow store a new user's default `quantrack run` leaves (tests/first_run.py), read back through
MlflowClient as the UI reads it: run names that say what ran, the champion's figures as parent metrics
(the experiment list's columns), child runs with the times their variants were really measured, and a
registered version that describes itself."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def story(first_run):
    from mlflow.tracking import MlflowClient

    assert first_run.status == 0, "\n".join(first_run.history[-30:])
    client = MlflowClient(first_run.tracking_uri)
    report = json.loads((first_run.run_dir() / "report.json").read_text())
    parent = client.get_run(report["mlflow"]["run_id"])
    children = client.search_runs([parent.info.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", max_results=100)
    return client, report, parent, children


def test_report_json_links_its_run_without_credentials(story):
    client, report, parent, _ = story
    assert report["mlflow"]["run_id"] == parent.info.run_id
    assert report["mlflow"]["experiment_id"] == parent.info.experiment_id
    assert report["mlflow"]["tracking_uri"].startswith("sqlite:///")


def test_the_parent_is_named_for_what_ran_and_carries_the_champions_figures(story):
    client, report, parent, _ = story
    assert "digits" in parent.info.run_name and "logreg" in parent.info.run_name
    champ = next(v for v in report["variants"] if v["name"] == report["champion"])
    metrics = parent.data.metrics
    assert metrics["champion_score"] == pytest.approx(champ["score"])
    assert metrics["champion_file_ratio"] == pytest.approx(champ["file_ratio"])
    assert "champion_speedup" in metrics
    exp = client.get_experiment(parent.info.experiment_id)
    assert exp.tags.get("mlflow.experimentKind") == "custom_model_development"  # the classic UI, not GenAI


def test_each_child_has_the_times_its_variant_was_measured(story):
    _, report, parent, children = story
    by_variant = {c.data.tags["quantrack.variant"]: c for c in children}
    assert set(by_variant) == {v["name"] for v in report["variants"]}
    measured = [v for v in report["variants"] if v["started_ms"] is not None]
    assert measured
    for v in measured:
        run = by_variant[v["name"]]
        assert run.info.end_time > run.info.start_time, v["name"]
        assert run.info.start_time == v["started_ms"] and run.info.end_time >= v["ended_ms"]
        assert parent.info.start_time <= run.info.start_time <= parent.info.end_time
        assert v["name"] in run.info.run_name and "digits" in run.info.run_name
        assert f"**{v['name']}**" in run.data.tags["mlflow.note.content"]
    starts = [by_variant[v["name"]].info.start_time for v in measured]
    assert starts == sorted(starts)  # in the order they were measured: the report's


def test_the_registered_version_describes_itself_and_its_child_run_names_it(story):
    client, report, parent, children = story
    name = report["registered_model"]
    (version,) = client.search_model_versions(f"name='{name}'")
    assert version.description and report["champion"] in version.description
    assert "speed-up" in version.description
    for tag in ("variant", "accuracy", "size", "speed-up", "rule"):
        assert version.tags.get(tag), tag
    assert version.tags["variant"] == report["champion"]
    assert "(95% CI " in version.tags["accuracy"]
    champion_child = next(c for c in children if c.data.tags["quantrack.variant"] == report["champion"])
    assert f"models:/{name}/{version.version}" in champion_child.data.tags["mlflow.note.content"]
