"""Bad sweep input: one line on stderr, exit 2, before Ray or MLflow start (nothing left behind)."""

import pytest


@pytest.mark.parametrize("args, message", [
    (["--lr", "0.01,-1"], "quantrack: error: --lr must be a positive number, got -1.0"),
    (["--search", "bayes"], "quantrack: error: --search must be one of grid, random, optuna, got 'bayes'"),
    (["--seed", "1", "--samples", "2", "--search", "grid"], "quantrack: error: --samples draws random combinations"),
    (["--methods", "dynamic-int8", "--methods", "nope"], "quantrack: error: unknown method 'nope'"),
    (["--dataset", "nope.csv"], "quantrack: error: data file not found: nope.csv"),
    (["--max-concurrent", "0"], "quantrack: error: --max-concurrent must be a positive integer, got 0"),
])
def test_bad_input_is_one_line_and_exit_2(run_cli, capsys, tmp_path, args, message):
    code = run_cli("sweep", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", *args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()


def test_bad_sweep_table_is_one_line(run_cli, capsys, tmp_path):
    cfg = tmp_path / "q.toml"
    cfg.write_text("[sweep]\nlrr = [0.1]\n")
    assert run_cli("sweep", "--config", str(cfg)) == 2
    assert capsys.readouterr().err == f"quantrack: error: config file {cfg}: unknown key 'lrr' in [sweep]\n"


@pytest.mark.parametrize("address, message", [
    ("nope", "quantrack: error: --ray-address must be HOST:PORT"),
    ("127.0.0.1:{port}", "quantrack: error: cannot reach the Ray head at 127.0.0.1:{port}: Connection refused"),
])
def test_an_unreachable_ray_head_is_one_line_and_leaves_no_run(run_cli, capsys, tmp_path, address, message):
    from mlflow.tracking import MlflowClient

    from servers import free_port

    port = free_port()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = run_cli("sweep", "--tracking-uri", uri, "--seed", "0,1", "--ray-address", address.format(port=port))
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(message.format(port=port)) and err.count("\n") == 1, err
    client = MlflowClient(uri)
    assert not [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
