"""A sweep on a local Ray runtime (2 CPUs, 2 trials at a time) against a team server: `mlflow server`
backed by a real PostgreSQL, both started here on free loopback ports and stopped after."""

from __future__ import annotations

import json

import pytest

from servers import MlflowServer, PostgresServer, postgres_bin

pytestmark = [pytest.mark.slow, pytest.mark.server,
              pytest.mark.skipif(postgres_bin() is None,
                                 reason="PostgreSQL binaries (initdb, pg_ctl) not installed; .ci/run installs them")]

EPOCHS = 3


@pytest.fixture(scope="module")
def team_server(tmp_path_factory):
    with PostgresServer() as pg, MlflowServer(tmp_path_factory.mktemp("mlflow-pg"), backend_store_uri=pg.uri) as srv:
        yield srv, pg


def test_sweep_on_ray_tracks_every_trial_on_a_postgres_backed_server(team_server, tmp_path):
    from mlflow.tracking import MlflowClient

    from quantrack.sweep.runner import run_sweep
    from quantrack.sweep.space import build_space

    server, pg = team_server
    base = {"epochs": EPOCHS, "methods": "dynamic-int8", "tracking_uri": server.url, "out": str(tmp_path / "out"),
            "experiment": "sweep-test", "latency_budget_s": 0.1}
    space = build_space(base, {"lr": "0.01,0.05", "seed": "0,1"})
    base = {k: v for k, v in base.items() if k not in space.values}
    lines: list[str] = []
    result = run_sweep(base, space, max_concurrent=2, num_cpus=2, say=lines.append)

    assert [t.status for t in result.trials] == ["FINISHED"] * 4, [t.reason for t in result.trials]
    client = MlflowClient(server.url)
    exp = client.get_experiment_by_name("sweep-test")
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["sweep.space.lr"] == "0.01 | 0.05" and parent.data.params["sweep.search"] == "grid"
    assert pg.uri.split("@")[0].split(":")[-1] not in json.dumps(parent.data.params)  # no password anywhere

    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(r.info.run_name for r in children) == [f"trial-{i:03d}" for i in range(4)]
    assert {r.info.run_id for r in children} == {t.run_id for t in result.trials}
    seen = set()
    for run in children:
        assert run.info.status == "FINISHED"
        seen.add((run.data.params["lr"], run.data.params["seed"]))
        for key in ("train_loss", "val_loss"):  # every loss point exactly once, even with 2 writers at a time
            history = client.get_metric_history(run.info.run_id, key)
            assert sorted(m.step for m in history) == list(range(1, EPOCHS + 1))
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
        assert "report/report.json" in artifacts
    assert seen == {(lr, s) for lr in ("0.01", "0.05") for s in ("0", "1")}
    # Two trials really ran at the same time.
    spans = sorted((r.info.start_time, r.info.end_time) for r in children)
    assert any(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:]))

    # The sweep's champion, and the alias pointing at its version.
    champ = result.champion
    mv = client.get_model_version_by_alias(result.registered_model, "champion")
    assert mv.version == champ.model_version
    assert mv.run_id == result.trial(champ.trial).run_id and mv.tags["quantrack.variant"] == champ.variant
    assert parent.data.tags["champion"] == champ.key

    files = {a.path for a in client.list_artifacts(parent.info.run_id, "sweep")}
    assert {"sweep/sweep.json", "sweep/sweep.html", "sweep/sweep_pareto.png"} <= files
    saved = json.loads((tmp_path / "out" / result.out_dir.split("/")[-1] / "sweep.json").read_text())
    assert saved["champion"]["trial"] == champ.trial and len(saved["trials"]) == 4
    assert set(saved["front"]) and set(saved["ranking"]) == {f"trial-{i:03d}" for i in range(4)}
