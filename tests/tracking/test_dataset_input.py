"""The run's dataset input: a table too wide for MLflow's schema limit is logged with a shortened schema."""

from __future__ import annotations

import json

import pytest


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


def _race_on_next_dataset_insert(rival):
    """Run ``rival()`` once, inside the next flush that inserts a dataset: after MLflow has read that the
    dataset is missing and before it inserts it -- what another process does when the timing is unlucky."""
    from mlflow.store.tracking.dbmodels.models import SqlDataset
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    state = {"armed": True, "fired": 0}

    def before_flush(session, flush_context, instances):
        if state["armed"] and any(isinstance(o, SqlDataset) for o in session.new):
            state["armed"] = False  # the rival's own flush passes through here too
            rival()
            state["fired"] += 1

    event.listen(Session, "before_flush", before_flush)
    return state, lambda: event.remove(Session, "before_flush", before_flush)


def test_a_real_unique_key_race_on_a_new_dataset_links_it_once(sqlite_uri):
    """Not a mock: the other run inserts the same new dataset between MLflow's read and its insert, so
    MLflow's own store raises ``UNIQUE constraint failed`` (what a server sends back as a 400). Before the
    fix this ended the run with "refused the dataset input"."""
    import sqlite3

    from quantrack.tracking.tracker import Tracker

    fp = {"sha256": "ef" * 32, "source": "/data/new.csv", "rows": 3, "columns": 2, "target": "y"}
    ours, theirs = Tracker(sqlite_uri, "race"), Tracker(sqlite_uri, "race")
    ours.start(None, {})
    theirs.start(None, {})
    state, remove = _race_on_next_dataset_insert(lambda: theirs.log_dataset("new", fp, ["a", "b"]))
    try:
        ours.log_dataset("new", fp, ["a", "b"])
    finally:
        remove()
    assert state["fired"] == 1
    for tracker in (ours, theirs):
        (inp,) = tracker.client.get_run(tracker.run_id).inputs.dataset_inputs
        assert inp.dataset.digest == fp["sha256"][:32]
        tracker.end("FINISHED")
    with sqlite3.connect(sqlite_uri.removeprefix("sqlite:///")) as db:
        assert db.execute("select count(*) from datasets").fetchone() == (1,)
        assert db.execute("select count(*) from inputs where source_type='DATASET'").fetchone() == (2,)


@pytest.mark.parametrize("message", [
    "BAD_REQUEST: (sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, "
    "datasets.digest",  # a plain `mlflow server` on SQLite, as the run saw it
    '(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "dataset_pk"',
    "(pymysql.err.IntegrityError) (1062, \"Duplicate entry '1-digits-ab' for key 'datasets.PRIMARY'\")",
    "RESOURCE_ALREADY_EXISTS: Experiment(name=x) already exists.",
])
def test_every_stores_wording_of_a_lost_race_is_recognised(message):
    from mlflow.exceptions import MlflowException

    from quantrack.mlflow_models.connection import is_conflict

    assert is_conflict(MlflowException(message))


@pytest.mark.parametrize("message", ["PERMISSION_DENIED: Permission denied", "INVALID_PARAMETER_VALUE: bad digest",
                                     "(sqlite3.OperationalError) attempt to write a readonly database"])
def test_other_refusals_are_not_retried(message, monkeypatch):
    from mlflow.exceptions import MlflowException

    from quantrack.mlflow_models import connection

    calls = []

    def refuse():
        calls.append(1)
        raise MlflowException(message)

    assert not connection.is_conflict(MlflowException(message))
    with pytest.raises(MlflowException):
        connection.retry_on_conflict(refuse)
    assert calls == [1]


def test_a_conflict_that_never_clears_ends_after_a_bounded_number_of_attempts(monkeypatch):
    from mlflow.exceptions import MlflowException

    from quantrack.mlflow_models import connection

    monkeypatch.setattr(connection, "CONFLICT_WAIT_S", 0.0)
    calls = []

    def always():
        calls.append(1)
        raise MlflowException("BAD_REQUEST: (sqlite3.IntegrityError) UNIQUE constraint failed: x")

    with pytest.raises(MlflowException):
        connection.retry_on_conflict(always)
    assert len(calls) == connection.CONFLICT_ATTEMPTS


def test_a_version_number_lost_to_another_run_is_retried(sqlite_uri, monkeypatch):
    """MLflow retries a version-number collision 3 times without a pause, then gives up: with several runs
    registering at once, a run that had trained and measured everything failed there."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from quantrack.mlflow_models.registration import register
    from quantrack.mlflow_models import connection

    monkeypatch.setattr(connection, "CONFLICT_WAIT_S", 0.0)
    client = MlflowClient(sqlite_uri)
    run = client.create_run(client.create_experiment("versions"))
    real, calls = client.create_model_version, []

    def crowded(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise MlflowException("Model Version creation error (name=m). Giving up after 3 attempts.")
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "create_model_version", crowded)
    versions = register(client, run.info.run_id, run.info.artifact_uri,
                        {"name": "m", "champion": "fp32",
                         "versions": [{"variant": "fp32", "artifact_path": "models", "accuracy": 0.9}]})
    assert versions == {"fp32": "1"} and len(calls) == 2
