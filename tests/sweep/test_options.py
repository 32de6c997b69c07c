"""A sweep's inputs: TOML file ([run] options and a [sweep] table) and flags."""

import pytest

from quantrack.errors import QuantrackError
from quantrack.sweep.options import sweep_inputs

NONE_FIXED = dict(dataset=None, target=None, max_accuracy_drop=None, prefer=None, out=None, tracking_uri=None,
                  experiment=None, model_name=None, run_name=None, register=None)
NONE_MULTI = dict(impute=None, model=None, hidden=None, epochs=None, lr=None, batch_size=None, seed=None,
                  methods=None, threads=None)
NONE_SETTINGS = dict(samples=None, search=None, max_concurrent=None, ray_address=None)


def inputs(config=None, fixed=None, multi=None, settings=None):
    return sweep_inputs(config, fixed={**NONE_FIXED, **(fixed or {})}, multi={**NONE_MULTI, **(multi or {})},
                        settings={**NONE_SETTINGS, **(settings or {})})


def test_flags_win_over_the_sweep_table_which_wins_over_run_options(tmp_path):
    cfg = tmp_path / "q.toml"
    cfg.write_text('epochs = 7\nlr = 0.02\nmethods = "dynamic-int8"\ndataset = "iris"\n'
                   '[sweep]\nlr = [0.01, 0.05]\nseed = [0, 1]\nmax-concurrent = 2\nhidden = [[64, 64], [128]]\n')
    base, space, settings = inputs(cfg, multi={"seed": ["3,4,5"]})
    assert base == {"dataset": "iris"}  # the sweepable options all live in the space
    assert space.values["lr"] == ("0.01", "0.05")
    assert space.values["seed"] == ("3", "4", "5")
    assert space.values["hidden"] == ("64,64", "128")
    assert space.values["epochs"] == ("7",) and space.values["methods"] == ("dynamic-int8",)
    assert settings == {"samples": None, "search": "grid", "max_concurrent": 2, "ray_address": None}


def test_samples_mean_random_unless_optuna():
    assert inputs(multi={"lr": ["0.01,0.02"]}, settings={"samples": 3})[2]["search"] == "random"
    assert inputs(multi={"lr": ["0.01,0.02"]}, settings={"samples": 3, "search": "optuna"})[2]["search"] == "optuna"


@pytest.mark.parametrize("settings, message", [
    ({"search": "bayes"}, "--search must be one of grid, random, optuna"),
    ({"samples": 0, "search": "random"}, "--samples must be a positive integer"),
    ({"samples": 2, "search": "grid"}, "--samples draws random combinations"),
    ({"max_concurrent": 0}, "--max-concurrent must be a positive integer"),
])
def test_bad_settings_are_one_clear_error(settings, message):
    with pytest.raises(QuantrackError, match=message):
        inputs(settings=settings)


def test_run_ignores_the_sweep_table(tmp_path):
    from quantrack.config import load_toml

    cfg = tmp_path / "q.toml"
    cfg.write_text('epochs = 7\n[sweep]\nlr = [0.01, 0.05]\n')
    assert load_toml(cfg) == {"epochs": 7}
