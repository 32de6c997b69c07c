"""Any legal name works end to end: the longest file name Linux takes (255 bytes, unicode, spaces,
quotes), the longest run and experiment names MLflow keeps. Before: the run trained, then failed with
``[Errno 36] File name too long`` moving its folder into place (or, when registering, was refused for a
--model-name the user never gave)."""

from __future__ import annotations

import json
import random

import pytest

from quantrack.core.names import NAME_MAX

pytestmark = pytest.mark.slow


def _longest_legal_stem() -> str:
    stem = ""
    for c in "données d'été #1 " * 30:  # multibyte characters, spaces, a quote and a '#'
        if len((stem + c + ".csv").encode("utf-8")) > NAME_MAX:
            break
        stem += c
    return stem


def test_the_longest_legal_names_run_to_the_end(tmp_path, run_cli, capsys):
    from mlflow.tracking import MlflowClient

    stem = _longest_legal_stem()
    csv = tmp_path / f"{stem}.csv"
    assert len(csv.name.encode("utf-8")) == NAME_MAX or len(csv.name.encode("utf-8")) >= NAME_MAX - 3
    rng = random.Random(0)
    csv.write_text("a,b,c,label\n" + "".join(f"{rng.random():.4f},{rng.random():.4f},{rng.random():.4f},{i % 2}\n"
                                             for i in range(120)), encoding="utf-8")
    run_name = ("run ✓ " * 50)[:250]
    experiment = ("expérience " * 30)[:256]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "fast.toml").write_text("latency_budget_s = 0.05\n", encoding="utf-8")  # timing is not tested here
    code = run_cli("run", "--config", str(tmp_path / "fast.toml"), "--dataset", str(csv), "--epochs", "2",
                   "--methods", "dynamic-int8", "--tracking-uri", uri,
                   "--out", str(tmp_path / "runs"), "--run-name", run_name, "--experiment", experiment)
    err = capsys.readouterr().err
    assert code == 0, err[-800:]

    (folder,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir() and p.name != "spool"]
    assert len(folder.name.encode("utf-8")) <= NAME_MAX and not folder.name.startswith(".partial-")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["dataset"]["name"] == stem  # the full name, where it is data
    client = MlflowClient(uri)
    run = client.get_run(report["mlflow"]["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == run_name
    assert client.get_experiment(run.info.experiment_id).name == experiment
    (inp,) = run.inputs.dataset_inputs
    assert inp.dataset.name == stem
    (version,) = report["mlflow"]["model_versions"].values()  # registered under a name made safe
    (mv,) = client.search_model_versions(f"run_id='{run.info.run_id}'")
    assert str(mv.version) == str(version) and len(mv.name) <= 256 and "'" not in mv.name and "#" not in mv.name


@pytest.mark.parametrize("flag, value", [("--run-name", "r" * 251), ("--experiment", "e" * 257)])
def test_a_name_mlflow_cannot_keep_is_refused_before_the_run(tmp_path, run_cli, capsys, flag, value):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = run_cli("run", "--epochs", "1", "--methods", "dynamic-int8", "--tracking-uri", uri, flag, value)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and flag in err
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()  # nothing started
