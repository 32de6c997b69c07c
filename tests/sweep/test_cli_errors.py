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
