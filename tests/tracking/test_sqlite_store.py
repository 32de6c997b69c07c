"""sqlite_store: the child creates the same store the parent would; anything else leaves the parent to it."""

import sys

import pytest

from quantrack.tracking import sqlite_store


@pytest.mark.parametrize("uri, expected", [
    ("sqlite:///mlflow.db", True), ("sqlite:////tmp/x/mlflow.db", True), ("sqlite:///:memory:", False),
    ("sqlite://", False), ("http://127.0.0.1:5000", False), ("file:///tmp/mlruns", False),
])
def test_only_sqlite_files_are_prepared(uri, expected):
    assert sqlite_store.is_sqlite_file(uri) is expected


def test_without_a_uri_the_environment_decides(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert sqlite_store.is_sqlite_file(None)  # MLflow's default is ./mlflow.db
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert not sqlite_store.is_sqlite_file(None)


def test_the_child_creates_a_store_mlflow_then_opens_as_its_own(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    warmup = sqlite_store.StoreWarmup(uri)
    assert warmup.started and warmup.wait()
    assert (tmp_path / "mlflow.db").stat().st_size > 0
    client = MlflowClient(tracking_uri=uri)
    assert client.get_experiment_by_name("Default") is not None
    run = client.create_run(client.create_experiment("e"))
    assert client.get_run(run.info.run_id).info.status == "RUNNING"


def test_a_relative_uri_is_created_in_the_parents_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sqlite_store.StoreWarmup("sqlite:///rel.db").wait()
    assert (tmp_path / "rel.db").is_file()


def test_a_server_uri_starts_nothing():
    warmup = sqlite_store.StoreWarmup("http://127.0.0.1:9")
    assert not warmup.started and not warmup.wait()


def test_a_store_that_cannot_be_created_reports_false(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    assert not sqlite_store.StoreWarmup(f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}").wait()


def test_a_child_that_hangs_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "_command", lambda uri: [sys.executable, "-c", "import time; time.sleep(60)"])
    warmup = sqlite_store.StoreWarmup(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not warmup.wait(timeout_s=0.5)
    assert warmup._proc.poll() is not None


@pytest.mark.parametrize("imported, cores, helps", [
    ({"numpy", "quantrack"}, 2, True),
    ({"numpy", "quantrack"}, 1, False),  # the child's imports would only compete with ours
    ({"numpy", "torch"}, 2, False),  # warm: creating the store here is quicker
    ({"mlflow.store.tracking.sqlalchemy_store"}, 8, False),
])
def test_the_store_child_runs_only_where_it_can_help(imported, cores, helps):
    assert sqlite_store.store_child_helps(imported, cores) is helps
