"""Per-block sensitivity on the tiny Llama: one row per block, ranked on calibration windows only, and
mixed-blocks keeps the worst in float; compare_lm reports the table and never ranks on what it judges."""

import io

import numpy as np
import pytest
import torch
from rich.console import Console
from torch import nn

import quantrack
from quantrack.cli.lm_console import print_lm_report
from quantrack.errors import QuantrackError
from quantrack.lm.methods import LMMethodUnavailable, base_of, get_lm_method
from quantrack.lm.per_block import lm_sensitivity
from quantrack.lm.sensitivity import MixedLM, block_table, build_mixed, units
from tests.lm.conftest import FAST, TEXT

CALIBRATION = ("Sphinx of black quartz, judge my vow. The five boxing wizards jump quickly. "
               "Bright vixens jump; dozy fowl quack. ") * 12


def _ids(n=3, width=32):
    return ((np.arange(n * width) * 11) % 300).reshape(n, width)


def test_units_are_the_blocks_and_the_linears_outside_them(tiny):
    model, _ = tiny
    assert units(model, base_of("int8-dynamic")) == {f"model.layers.{i}": [f"model.layers.{i}.{p}" for p in (
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
        "mlp.up_proj", "mlp.down_proj")] for i in range(2)}  # the tied lm_head stays float under torchao
    assert list(units(model, base_of("dynamic-int8"))) == ["model.layers.0", "model.layers.1", "lm_head"]


def test_block_table_ranks_each_unit_alone(tiny):
    model, _ = tiny
    table = block_table(model, _ids(), MixedLM(base="dynamic-int8", windows=2), base_of("dynamic-int8"))
    assert sorted(r["layer"] for r in table) == ["lm_head", "model.layers.0", "model.layers.1"]
    assert [r["drop"] for r in table] == sorted((r["drop"] for r in table), reverse=True)
    for r in table:
        assert r["drop_ci"][0] <= r["drop"] <= r["drop_ci"][1] and r["params"] > 0 and not r["kept_float"]
        assert r["perplexity"] == pytest.approx(table.fp32_perplexity * (1 + r["drop"]), rel=1e-3)
    assert table.rows == 2 and table.evaluations == 4 and table.tokens_scored == 2 * 31


def test_mixed_keeps_the_worst_block_float_and_quantizes_the_rest(tiny):
    model, _ = tiny
    base = base_of("int8-dynamic")
    variant = build_mixed(model, MixedLM(keep=1, windows=2), _ids(), base)
    table = variant.quantrack_sensitivity
    worst = table[0]["layer"]
    assert variant.float_blocks == [worst] and [r["kept_float"] for r in table] == [True, False]
    modules = dict(variant.named_modules())
    for unit, names in units(model, base).items():
        for n in names:
            is_float = type(modules[n].weight) is nn.Parameter
            assert is_float == (unit == worst), n
    with pytest.raises(LMMethodUnavailable, match="calibration_texts"):
        build_mixed(model, MixedLM(), None, base)
    with pytest.raises(LMMethodUnavailable, match="none of the 2 units"):
        build_mixed(model, MixedLM(keep=2, windows=1), _ids(), base)
    with pytest.raises(QuantrackError, match="base"):
        MixedLM(base="hqq")
    with pytest.raises(QuantrackError, match="keep"):
        MixedLM(keep=-1)


def test_compare_lm_ranks_on_calibration_texts_and_reports_the_table(tiny, tmp_path):
    model, tok = tiny
    cfg = {"mixed-blocks": MixedLM(keep=1, windows=2)}
    report = quantrack.compare_lm(model, tok, [TEXT], calibration_texts=[CALIBRATION], methods=["mixed-blocks"],
                                  configs=cfg, context=32, max_windows=3, max_new_tokens=2, out=tmp_path,
                                  latency_budget_s=FAST)
    mixed = report.variant("mixed-blocks")
    assert mixed.available and mixed.stats.drop_ci is not None
    rows, cost = report.sensitivity["mixed-blocks"], report.sensitivity_cost["mixed-blocks"]
    assert len(rows) == 2 and sum(r["kept_float"] for r in rows) == 1
    assert cost["rows"] == 2 and cost["method"] == "int8-dynamic" and cost["calibration_windows_dropped"] == 0
    md = (tmp_path / "report.md").read_text()
    assert "## Per-block sensitivity" in md and "calibration window(s)" in md and "| model.layers." in md
    screen = io.StringIO()
    print_lm_report(report, Console(file=screen, width=240))  # what compare-lm prints
    assert "Kept in float: " + next(r["layer"] for r in rows if r["kept_float"]) in screen.getvalue()
    assert "perplexity alone" in screen.getvalue()
    # the evaluated text as calibration: every window would judge what it chose, so none is used
    short = TEXT[:600]
    same = quantrack.compare_lm(model, tok, [short], calibration_texts=[short], methods=["mixed-blocks"], configs=cfg,
                                context=32, max_new_tokens=2, latency_budget_s=FAST)
    assert not same.variant("mixed-blocks").available and "calibration_texts" in same.variant("mixed-blocks").reason
    assert not same.sensitivity


def test_lm_sensitivity_alone(tiny):
    model, tok = tiny
    threads = torch.get_num_threads()
    table = lm_sensitivity(model, tok, [CALIBRATION], base="int8-weight-only", context=32, windows=2)
    assert len(table) == 2 and table.method == "int8-weight-only" and torch.get_num_threads() == threads
    assert get_lm_method("mixed-blocks").calibrated
