"""Three terminals and a sync, one store, one new dataset: on every kind of store every run succeeds
and each links the dataset once.

Each store starts empty (a new experiment, a dataset nobody logged), so the runs race to create the
experiment and to insert the dataset; a ``quantrack sync`` uploads, meanwhile, a spooled run that
logged the same dataset. Behind an HTTP server a lost dataset race used to end a run with
``BAD_REQUEST: (sqlite3.IntegrityError) UNIQUE constraint failed: datasets...`` (exit 2).
tests/tracking/test_dataset_input.py forces that race deterministically; this file checks the whole
path, a real process per terminal, on each kind of store.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from servers import ADMIN, ADMIN_PASSWORD, MlflowServer, PostgresServer, postgres_bin

# On a quiet 2-core machine each test takes about a minute; the limit leaves room for a loaded one.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

N = 3  # terminals at once: with the sync, four processes on 2 cores, so they overlap for real (a race needs
#       two; each terminal more is a whole run, and it used to be four)
EXPERIMENT = "three-terminals"
SRC = Path(__file__).resolve().parents[2] / "src"


def _csv(path: Path) -> Path:
    """A small table nobody has logged yet (its digest is new in every store)."""
    rng = random.Random(24)
    rows = "".join(f"{rng.random():.4f},{rng.random():.4f},{rng.random():.4f},{i % 2}\n" for i in range(120))
    path.write_text("a,b,c,label\n" + rows, encoding="utf-8")
    return path


def _env(auth: bool) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    env.pop("MLFLOW_TRACKING_URI", None)
    for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(k, None)
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=ADMIN, MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD)
    return env


def _spool_a_run_of(csv: Path, uri: str, out: Path, auth: bool) -> str:
    """A run that reached the store, logged the same dataset while offline and ended in the spool."""
    from quantrack.config import RunConfig
    from quantrack.pipeline import load_data
    from quantrack.tracking.tracker import Tracker

    data = load_data(RunConfig(dataset=str(csv)))
    with _credentials(auth):
        tracker = Tracker(uri, EXPERIMENT)
        run_id = tracker.start("spooled", {"lr": 0.01})
        tracker.offline_reason = "simulated outage"  # as after a network error
        tracker.log_dataset(data.name, data.fingerprint, data.feature_names)  # journaled, not sent
        tracker.log_metrics({"train_loss": 0.5}, step=1)
        tracker._reconnect = lambda: False  # still gone at the end
        assert tracker.end("FINISHED", spool_root=out / "spool") == "spooled"
    return run_id


def _credentials(auth: bool):
    from quantrack.core.environment import env_override

    return env_override({"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD} if auth else {})


def _three_runs_and_a_sync(tmp_path: Path, uri: str, auth: bool = False, register: bool = False,
                           default_store: bool = False) -> None:
    """``register``: each run also registers its champion (racing for the registered model, the version
    numbers and the aliases). ``default_store``: the runs name no store, so they share the one a new user
    gets, ./mlflow.db (``uri`` must be that file)."""
    csv = _csv(tmp_path / "fresh table.csv")  # a space in the name, as users' files have
    (tmp_path / "fast.toml").write_text("latency_budget_s = 0.05\n", encoding="utf-8")  # timing is not tested here
    spooled = _spool_a_run_of(csv, uri, tmp_path / "spooled", auth)
    env = _env(auth)
    run = [sys.executable, "-m", "quantrack", "run", "--config", str(tmp_path / "fast.toml"), "--dataset", str(csv),
           "--epochs", "2", "--methods", "dynamic-int8", "--register", "champion" if register else "none",
           "--model-name", "three-terminals", *([] if default_store else ["--tracking-uri", uri]),
           "--experiment", EXPERIMENT]
    procs = [subprocess.Popen(run + ["--out", str(tmp_path / f"out{i}"), "--run-name", f"terminal-{i}"], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(N)]
    procs.append(subprocess.Popen([sys.executable, "-m", "quantrack", "sync", "--out", str(tmp_path / "spooled"),
                                   "--tracking-uri", uri], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=900)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * (N + 1), [e.strip().splitlines()[-1:] for e in errors]
    assert "Traceback" not in "".join(errors)
    if auth:
        assert ADMIN_PASSWORD not in "".join(errors)

    from mlflow.tracking import MlflowClient

    with _credentials(auth):
        client = MlflowClient(uri)
        (exp,) = [e for e in client.search_experiments() if e.name == EXPERIMENT]  # created once
        runs = [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
    assert sorted(r.info.run_name for r in runs) == sorted([f"terminal-{i}" for i in range(N)] + ["spooled"])
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert spooled in {r.info.run_id for r in runs}
    digests = set()
    for r in runs:
        (inp,) = r.inputs.dataset_inputs  # each run links the dataset exactly once
        digests.add((inp.dataset.name, inp.dataset.digest))
    assert len(digests) == 1  # one dataset, shared by all
    if register:
        with _credentials(auth):
            versions = client.search_model_versions("name='three-terminals'")
            aliases = client.get_registered_model("three-terminals").aliases
        assert sorted(int(v.version) for v in versions) == list(range(1, N + 1))  # one each, none lost
        assert {v.run_id for v in versions} == {r.info.run_id for r in runs if r.info.run_name != "spooled"}
        assert set(aliases) >= {"challenger", "champion"}


def test_three_runs_and_a_sync_on_the_default_sqlite_file(tmp_path):
    """Three terminals in one folder with no --tracking-uri: one fresh ./mlflow.db, and each run's
    champion registered (the version numbers race too)."""
    _three_runs_and_a_sync(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", register=True, default_store=True)


# A server without authentication takes the same REST path as this one minus the credentials, so the
# authenticated server stands for both (each of these tests starts four processes besides the server).
@pytest.mark.server
def test_three_runs_and_a_sync_on_a_basic_auth_server(tmp_path):
    with MlflowServer(tmp_path / "server", auth=True) as server:
        _three_runs_and_a_sync(tmp_path, server.url, auth=True)


@pytest.mark.server
@pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL binaries (initdb, pg_ctl) not installed; .ci/run installs them")
def test_three_runs_and_a_sync_on_a_postgres_backed_server(tmp_path):
    with PostgresServer() as pg, MlflowServer(tmp_path / "server", backend_store_uri=pg.uri) as server:
        _three_runs_and_a_sync(tmp_path, server.url, register=True)  # real concurrent transactions
