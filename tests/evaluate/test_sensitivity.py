"""Per-layer sensitivity and the mixed-precision methods on a model with one fragile layer.

The fragile layer has a few huge outlier weights: per-tensor int8 then has a step so coarse that
its ordinary weights round to zero, so quantizing that layer alone ruins the model while every
other layer quantizes harmlessly. The search must rank it first and the mixed methods keep it
(and only what the budget needs) in float.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import quantrack
from quantrack.errors import QuantrackError
from quantrack.methods import get_method
from quantrack.methods.base import MethodUnavailable, QuantContext

FRAGILE = "body.2"


class Tower(nn.Module):
    def __init__(self, n_in: int = 16, width: int = 32, n_out: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                  nn.Linear(width, width), nn.ReLU())
        self.head = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@pytest.fixture(scope="module")
def problem():
    """A Tower with an outlier weight in body.2, labelled by its own float predictions (fp32 accuracy 1.0)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = Tower().eval()
    with torch.no_grad():
        for layer in model.modules():  # a gain that keeps the signal alive through four layers (no bias-only logits)
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(2.5)
                layer.bias.zero_()
        # A huge weight on an input that is always 0 (a dead unit of body.0): harmless in float, but
        # it sets body.2's int8 scale, so its ordinary weights round to zero. Activations stay normal.
        model.body[0].weight[0] = 0.0
        model.body[0].bias[0] = -1.0
        model.body[2].weight[0, 0] = 1000.0
    x = np.random.default_rng(0).normal(size=(400, 16)).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).argmax(1).numpy()
    return model, x, y


@pytest.mark.parametrize("method,workers", [("dynamic-int8", 1), ("onnx-int8-dynamic", 2)])
def test_sensitivity_ranks_the_fragile_layer_first(problem, method, workers):
    import sys

    model, x, y = problem
    stdout = sys.stdout
    table = quantrack.sensitivity(model, method, None, (x, y), workers=workers)
    assert sys.stdout is stdout  # parallel ONNX quantizations must not leave stdout redirected
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    assert sorted(r["layer"] for r in table) == sorted(names)
    assert table[0]["layer"] == FRAGILE
    assert table[0]["drop"] > 0.2 > max(r["drop"] for r in table[1:])
    assert [r["drop"] for r in table] == sorted((r["drop"] for r in table), reverse=True)
    assert table[0]["params"] == 32 * 32 + 32 and not any(r["kept_float"] for r in table)
    assert table.cost()["evaluations"] == len(names) and table.cost()["seconds"] > 0
    # the paired interval against fp32 (accuracy: Newcombe) holds the drop, and clears 0 for the fragile layer
    assert all(r["drop_ci"][0] <= r["drop"] <= r["drop_ci"][1] for r in table)
    assert table[0]["drop_ci"][0] > 0


def test_sensitivity_rows_scores_a_subset_and_bad_options_are_one_line(problem):
    model, x, y = problem
    table = quantrack.sensitivity(model, "dynamic-int8", None, (x, y), rows=50, workers=2)
    assert table.cost()["rows"] == 50 and table.cost()["workers"] == 2 and table[0]["layer"] == FRAGILE
    with pytest.raises(QuantrackError, match="sensitivity supports"):
        quantrack.sensitivity(model, "fp16", None, (x, y))
    with pytest.raises(QuantrackError, match="sensitivity_rows must be a positive integer"):
        quantrack.sensitivity(model, "dynamic-int8", None, (x, y), rows=0)


@pytest.mark.parametrize("name", ["mixed-int8", "onnx-mixed-int8"])
def test_compare_keeps_the_fragile_layer_in_float(problem, name, tmp_path):
    model, x, y = problem
    # the float layers are chosen on the calibration rows (with labels: accuracy), judged on the others
    report = quantrack.compare(model, (x[:200], y[:200]), (x[200:], y[200:]), methods=[plain_of(name), name],
                               max_drop=0.05, batch_sizes=(1,), latency_budget_s=0.02, out=tmp_path)
    x = x[200:]
    v = report.variant(name)
    assert v.available, v.reason
    plain = "dynamic-int8" if name == "mixed-int8" else "onnx-int8-dynamic"
    rows = report.sensitivity[plain]
    # the fragile layer first, then only as many of the next most sensitive as the budget needs
    assert rows[0]["layer"] == FRAGILE and 1 <= len(v.float_layers) < len(rows)
    assert v.float_layers == [r["layer"] for r in rows[:len(v.float_layers)]]
    assert [r["kept_float"] for r in rows] == [r["layer"] in v.float_layers for r in rows]
    assert report.variant("fp32").score - v.score <= 0.05
    assert report.variant(plain).score < v.score  # the all-int8 variant, measured beside it, is worse
    assert 0 < v.payload_bytes < report.variant("fp32").payload_bytes
    assert report.sensitivity_cost[plain]["evaluations"] == len(rows)
    assert report.sensitivity_cost[plain]["rows"] == 200 and report.sensitivity_cost[plain]["scored_on"] == "calibration"
    assert "200 calibration rows, none of them evaluated" in (tmp_path / "report.md").read_text()
    # the report: report.json's table, report.md/html sections, the bar plot, the terminal's top 5
    import json

    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["sensitivity"][plain] == rows and saved["variants"][-1]["float_layers"] == v.float_layers
    assert "## Per-layer sensitivity" in (tmp_path / "report.md").read_text()
    assert 'id="sensitivity"' in (tmp_path / "report.html").read_text()
    assert (tmp_path / "plots" / "sensitivity.png").stat().st_size > 0
    from quantrack.report.sensitivity import console_lines
    from quantrack.tracking.report_run import sensitivity_metrics

    (line,) = console_lines(report)
    assert line.count(" pt") == min(5, len(rows)) and f"{FRAGILE} " in line and "(float)" in line
    assert sensitivity_metrics(report)[f"sensitivity.{plain}.{FRAGILE}.drop"] == rows[0]["drop"]
    # saved and reloaded without pickle: the same layers float, the same outputs
    fresh = Tower()
    reloaded = get_method(name).restore(tmp_path / "models" / v.artifact, fresh)
    assert reloaded.float_layers == v.float_layers
    np.testing.assert_allclose(reloaded.outputs(x[:20]), report_variant_outputs(name, model, x[:20], tmp_path),
                               rtol=1e-4, atol=1e-4)


def plain_of(name):
    return "dynamic-int8" if name == "mixed-int8" else "onnx-int8-dynamic"


def report_variant_outputs(name, model, x, tmp_path):
    """The saved file's outputs, loaded a second time into another fresh model (deterministic load)."""
    from quantrack.methods import get_method as gm

    artifact = next((tmp_path / "models").glob(f"{name}.*"))
    return gm(name).restore(artifact, Tower()).outputs(x)


def test_budget_out_of_reach_says_so(problem):
    """A zero budget on a metric any int8 layer moves cannot be met even with all layers but one in
    float: one-line reason."""
    from quantrack.core.budget import Budget
    from quantrack.methods.base import SearchContext

    model, x, y = problem

    def closeness(outputs, reference):  # 0 for fp32 itself, below 0 as soon as one output moves
        return -float(np.abs(outputs - reference).max())

    ctx = QuantContext(model=model, example=(x[:2],), method="mixed-int8", budget=Budget(0.0, score_name="closeness"),
                       calibration=(x[:200],), search=SearchContext(_evalset(x[200:], y[200:]), closeness))
    with pytest.raises(MethodUnavailable, match=r"even with 3 of 4 dynamic-int8 layers kept in float"):
        get_method("mixed-int8").apply(ctx)


@pytest.mark.parametrize("name", ["mixed-int8", "onnx-mixed-int8"])
def test_the_float_layers_are_chosen_on_the_calibration_rows(problem, name):
    """Calibration rows of zeros give every variant fp32's outputs (all zero), so no layer costs
    anything there and the choice keeps none in float, though on the evaluation rows the fragile
    layer ruins the model: the choice saw the calibration rows, not the rows that judge it."""
    model, x, y = problem
    zeros = np.zeros((60, x.shape[1]), dtype=np.float32)
    report = quantrack.compare(model, zeros, (x, y), methods=[plain_of(name), name], max_drop=0.05,
                               batch_sizes=(1,), latency_budget_s=0.02)
    v = report.variant(name)
    assert v.available, v.reason
    assert v.float_layers == []
    rows = report.sensitivity[plain_of(name)]
    assert all(r["drop"] == 0 for r in rows) and report.sensitivity_cost[plain_of(name)]["rows"] == 60
    # judged on the evaluation rows it is as bad as the plain all-int8 variant (what choosing there would have caught)
    assert report.variant("fp32").score - v.score > 0.2
    assert v.score == pytest.approx(report.variant(plain_of(name)).score, abs=0.01)


@pytest.mark.parametrize("name", ["mixed-int8", "onnx-mixed-int8"])
def test_without_calibration_rows_apart_from_eval_data_it_does_not_choose(problem, name):
    """No calibration, or calibration that is the evaluation rows: unavailable, naming calibration=."""
    model, x, y = problem
    for calibration, said in ((None, "compare was given none"), (x[:100], "all 100 calibration rows are also eval_data")):
        report = quantrack.compare(model, calibration, (x, y), methods=[name], batch_sizes=(1,), latency_budget_s=0.02)
        v = report.variant(name)
        assert not v.available and said in v.reason and "pass calibration= rows other than eval_data" in v.reason
        assert plain_of(name) not in report.sensitivity


def test_calibration_rows_that_are_also_evaluated_are_left_out(problem):
    from quantrack.core.evalset import EvalSet
    from quantrack.methods._mixed import rows_not_in

    _, x, y = problem
    mine = rows_not_in(EvalSet((x[150:250].astype(np.float64),), y[150:250]), _evalset(x[200:], y[200:]))
    np.testing.assert_array_equal(mine.inputs[0], x[150:200])  # float64 copies of evaluated rows still match
    np.testing.assert_array_equal(mine.labels, y[150:200])
    from quantrack.methods._mixed import evaluation_of
    from quantrack.methods.base import SearchContext

    ctx = QuantContext(model=None, example=(x[:2],), method="mixed-int8", calibration=(x[150:250],),
                       labels=y[150:250], search=SearchContext(_evalset(x[200:], y[200:])))
    chosen_on, metric = evaluation_of(ctx)
    assert chosen_on.rows == 50 and metric is None and chosen_on.labels.tolist() == y[150:200].tolist()


def _evalset(x, y):
    from quantrack.core.evalset import EvalSet

    return EvalSet((x,), y)


@pytest.mark.parametrize("name", ["mixed-int8", "onnx-mixed-int8"])
def test_single_layer_model_does_not_apply(name):
    """The default digits model (logreg, one Linear): nothing to choose, and the report says why."""
    from quantrack.models import build_model

    model = build_model("logreg", 64, 10)
    x = np.random.default_rng(0).normal(size=(40, 64)).astype(np.float32)
    y = np.arange(40) % 10
    reason = get_method(name).unavailable_reason("logreg")
    assert "does not apply to --model logreg" in reason and "single layer" in reason
    report = quantrack.compare(model, None, (x, y), methods=[name], batch_sizes=(1,), latency_budget_s=0.02)
    v = report.variant(name)
    assert not v.available and "does not apply" in v.reason and "1 layer(s)" in v.reason and "linear" in v.reason
