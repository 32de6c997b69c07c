"""The run's dataset input: a table too wide for MLflow's schema limit is logged with a shortened schema."""

from __future__ import annotations

import json


def test_a_100000_column_table_is_logged_with_the_schema_mlflow_takes(sqlite_uri):
    from mlflow.tracking import MlflowClient
    from mlflow.utils.validation import MAX_DATASET_SCHEMA_SIZE

    from quantrack.tracking.tracker import Tracker

    names = [f"feature_{i}" for i in range(100_000)]
    fingerprint = {"sha256": "ab" * 32, "source": "/data/wide.csv", "rows": 10, "columns": 100_001, "target": "y"}
    tracker = Tracker(sqlite_uri, "wide")
    run_id = tracker.start(None, {})
    note = tracker.log_dataset("wide", fingerprint, names)
    assert note is not None and "of 100000 columns" in note and "fingerprint covers them all" in note
    (inp,) = MlflowClient(sqlite_uri).get_run(run_id).inputs.dataset_inputs
    schema = json.loads(inp.dataset.schema)["mlflow_colspec"]
    assert len(inp.dataset.schema) <= MAX_DATASET_SCHEMA_SIZE
    assert [c["name"] for c in schema[:2]] == ["feature_0", "feature_1"] and schema[-1]["name"] == "y"
    assert f"of {len(names)} feature columns" in json.loads(inp.dataset.profile)["schema_lists"]


def test_an_ordinary_table_lists_every_column(sqlite_uri):
    from mlflow.tracking import MlflowClient

    from quantrack.tracking.tracker import Tracker

    tracker = Tracker(sqlite_uri, "narrow")
    run_id = tracker.start(None, {})
    assert tracker.log_dataset("t", {"sha256": "cd" * 32, "source": "/t.csv", "target": "y"}, ["a", "b"]) is None
    (inp,) = MlflowClient(sqlite_uri).get_run(run_id).inputs.dataset_inputs
    assert [c["name"] for c in json.loads(inp.dataset.schema)["mlflow_colspec"]] == ["a", "b", "y"]
    assert "schema_lists" not in json.loads(inp.dataset.profile)


def test_a_dataset_logged_at_the_same_moment_by_another_run_is_linked_not_refused(sqlite_uri, monkeypatch):
    """PostgreSQL answers a concurrent insert of the same dataset with a unique-key violation (seen in a
    2-worker sweep); the dataset exists then, and a second attempt links it to this run."""
    from mlflow.exceptions import MlflowException

    from quantrack.tracking.tracker import Tracker

    tracker = Tracker(sqlite_uri, "race")
    tracker.start(None, {})
    real, calls = tracker.client.log_inputs, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise MlflowException('(psycopg.errors.UniqueViolation) duplicate key value violates unique '
                                  'constraint "dataset_pk"')
        return real(*args, **kwargs)

    monkeypatch.setattr(tracker.client, "log_inputs", racing)
    fp = {"sha256": "ab" * 32, "source": "sklearn:digits", "rows": 3, "columns": 2, "target": "label"}
    tracker.log_dataset("digits", fp, ["a", "b"])
    assert len(calls) == 2
    assert [d.dataset.name for d in tracker.client.get_run(tracker.run_id).inputs.dataset_inputs] == ["digits"]
    tracker.end("FINISHED")
