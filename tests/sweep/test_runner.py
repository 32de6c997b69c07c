"""Small pure parts of the sweep driver (the whole driver runs in test_sweep_postgres / test_ray_cluster)."""

from pathlib import Path

from quantrack.sweep.runner import _error_reason, absolute_tracking_uri


def test_a_ray_wrapped_error_is_reduced_to_its_cause():
    err = RuntimeError("ray::ImplicitFunc.train() (pid=1, ip=127.0.0.1)\n  File \"x.py\", line 3, in f\n"
                       "    raise RuntimeError(...)\nRuntimeError: MLflow server unreachable at http://u:pw@h/")
    assert _error_reason(err) == "RuntimeError: MLflow server unreachable at http://***@h/"
    assert _error_reason(ValueError("plain")) == "plain"


def test_relative_sqlite_paths_become_absolute_for_the_workers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_tracking_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert absolute_tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert absolute_tracking_uri("mlruns") == str(Path(tmp_path / "mlruns"))
    assert absolute_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
