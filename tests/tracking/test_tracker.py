"""Authenticated tracking against a real ``mlflow server --app-name basic-auth`` on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servers import ADMIN, ADMIN_PASSWORD, MlflowServer, free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("auth-server"), auth=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _cli(args: list[str], env_extra: dict[str, str], cwd: Path) -> tuple[int, str, str, float]:
    """quantrack as a user runs it: a fresh process, so the timing includes its start-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(env_extra, PYTHONPATH=SRC)
    started = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "quantrack", *args], env=env, cwd=cwd, capture_output=True,
                       text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr, time.perf_counter() - started


def test_run_with_credentials_logs_everything_and_never_the_password(auth_server, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    creds = {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    code, out, err, _ = _cli(["run", "--epochs", "3", "--methods", "dynamic-int8", "--tracking-uri", auth_server.url,
                              "--experiment", "auth-test", "--out", str(tmp_path / "runs")], creds, tmp_path)
    assert code == 0, err
    assert ADMIN_PASSWORD not in out + err

    for k, v in creds.items():
        monkeypatch.setenv(k, v)
    client = MlflowClient(auth_server.url)
    exp = client.get_experiment_by_name("auth-test")
    (run,) = [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
    assert run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2, 3]
    assert run.data.params["epochs"] == "3"
    for text in [*run.data.params.values(), *run.data.tags.values()]:
        assert ADMIN_PASSWORD not in text
    # Every artifact file of the run, downloaded back from the server.
    local = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "dl")))
    files = [p for p in local.rglob("*") if p.is_file()]
    assert any(p.name == "report.json" for p in files)
    for p in files:
        assert ADMIN_PASSWORD.encode() not in p.read_bytes(), p
    # And the output folder on disk.
    for p in (tmp_path / "runs").rglob("*"):
        if p.is_file():
            assert ADMIN_PASSWORD.encode() not in p.read_bytes(), p
    # The registered champion is there too, readable with the same credentials.
    mv = client.get_model_version_by_alias("quantrack-digits-logreg", "champion")
    assert mv.run_id == run.info.run_id


def test_wrong_password_fails_fast_in_one_line_before_training(auth_server, tmp_path):
    creds = {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": "not-the-password-123"}
    code, out, err, seconds = _cli(["run", "--epochs", "3", "--methods", "dynamic-int8", "--tracking-uri",
                                    auth_server.url, "--out", str(tmp_path / "runs")], creds, tmp_path)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("quantrack: error:")]
    assert len(errors) == 1 and "refused the credentials" in errors[0]
    assert "Traceback" not in err and "not-the-password-123" not in out + err
    assert "training" not in err  # it stopped before training
    assert not (tmp_path / "runs").exists()
    assert seconds < 10, f"took {seconds:.1f} s"


def test_no_server_fails_fast_in_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code, out, err, seconds = _cli(["run", "--epochs", "3", "--methods", "dynamic-int8", "--tracking-uri", url,
                                    "--out", str(tmp_path / "runs")], {}, tmp_path)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("quantrack: error:")]
    assert errors == [f"quantrack: error: cannot reach the MLflow server at {url}: connection refused"]
    assert seconds < 10, f"took {seconds:.1f} s"


def test_credentials_from_netrc(auth_server, tmp_path, monkeypatch, run_cli, capfd):
    from mlflow.tracking import MlflowClient

    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {ADMIN} password {ADMIN_PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    code = run_cli("run", "--epochs", "2", "--methods", "dynamic-int8", "--no-register", "--tracking-uri",
                   auth_server.url, "--experiment", "netrc-test", "--out", str(tmp_path / "runs"))
    out, err = capfd.readouterr()
    assert code == 0, err
    assert ADMIN_PASSWORD not in out + err
    exp = MlflowClient(auth_server.url).get_experiment_by_name("netrc-test")  # netrc again
    assert exp is not None


@pytest.mark.parametrize("text,expected", [
    ("https://u:p@ss@host/x", "https://***@host/x"),  # "@" inside the password
    ("https://u:pa/ss@host", "https://***@host"),  # "/" inside the password
    ("http://127.0.0.1:5000/api", "http://127.0.0.1:5000/api"),
    ("sqlite:///tmp/mlflow.db", "sqlite:///tmp/mlflow.db"),
    ("401 from https://bob:s3cret@dagshub.com/x.mlflow: denied", "401 from https://***@dagshub.com/x.mlflow: denied"),
    ("postgresql://h/db?user=u&password=s3cret&sslmode=require", "postgresql://h/db?user=u&password=***&sslmode=require"),
    ("mysql+pymysql://h/db?passwd=s3cret", "mysql+pymysql://h/db?passwd=***"),
    ("mssql+pyodbc:///?odbc_connect=DRIVER%3Dx%3BPWD%3Ds3cret%3BUID%3Du",
     "mssql+pyodbc:///?odbc_connect=DRIVER%3Dx%3BPWD%3D***%3BUID%3Du"),  # URL-encoded, as pyodbc takes it
    ("https://h/x?token=s3cret", "https://h/x?token=***"),
    ("password authentication failed for user", "password authentication failed for user"),  # no value: no secret
    ("cannot use the tracking URI admin:s3cret@127.0.0.1:5000: unsupported URI 'admin:s3cret@127.0.0.1:5000'",
     "cannot use the tracking URI ***@127.0.0.1:5000: unsupported URI '***@127.0.0.1:5000'"),  # the scheme forgotten
    ("mail bob@example.com at 10:30", "mail bob@example.com at 10:30"),
    (None, None),
])
def test_redact_hides_every_form_of_user_info(text, expected):
    from quantrack.mlflow_models.connection import redact

    assert redact(text) == expected
