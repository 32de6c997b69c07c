"""compare_lm end to end on the tiny Llama: figures present, fp32 untouched, bad options refused."""

import json

import pytest

import quantrack
from quantrack.errors import QuantrackError
from tests.lm.conftest import FAST, TEXT

METHODS = ["bf16", "int8-weight-only", "gptq", "dynamic-int8"]  # registry order


@pytest.fixture(scope="module")
def report(tiny, tmp_path_factory):
    model, tok = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = tmp_path_factory.mktemp("lm-report")
    r = quantrack.compare_lm(model, tok, [TEXT], methods=METHODS, context=64, max_windows=6, max_new_tokens=4,
                             out=out, latency_budget_s=FAST)
    assert all((before[k] == v).all() for k, v in model.state_dict().items())  # the user's model is untouched
    return r, out


def test_every_available_variant_has_its_figures(report):
    r, _ = report
    assert [v.name for v in r.variants] == ["fp32", *METHODS]
    assert r.score_name == "perplexity" and r.windows.windows == 6 and r.windows.context == 64
    for v in r.variants:
        if not v.available:
            continue
        assert v.score > 1 and v.stats.score_ci[0] <= v.score <= v.stats.score_ci[1]
        assert v.decode.p50_us > 0 and v.prefill.p50_us > 0 and v.tokens_per_s > 0
        assert v.weight_bytes > 0 and 0 <= v.agreement <= 1 and 0 <= v.generation_match <= 1
        if v.name != "fp32":
            assert v.stats.drop_ci[0] <= v.stats.drop <= v.stats.drop_ci[1]
            assert v.decode.speedup is not None and v.prefill.verdict is not None  # timed against fp32
    fp32 = r.variant("fp32")
    assert r.variant("bf16").weight_bytes == pytest.approx(fp32.weight_bytes / 2, rel=0.01)
    assert r.variant("int8-weight-only").weight_bytes < fp32.weight_bytes
    gptq = r.variant("gptq")
    assert not gptq.available and "CUDA" in gptq.reason
    assert r.champion in [v.name for v in r.variants]


def test_report_files_record_the_windows(report):
    r, out = report
    data = json.loads((out / "report.json").read_text())
    assert data["windows"]["stride"] == 64 and data["windows"]["tokens_scored"] == 6 * 63
    md = (out / "report.md").read_text()
    assert "| fp32 |" in md and "gptq" in md and "stride 64" in md


@pytest.mark.parametrize("kwargs, match", [
    ({"methods": ["nope"]}, "unknown LM method"),
    ({"prefer": "latency"}, "prefer"),
    ({"max_increase": -1}, "max_drop"),
    ({"context": 4096}, "longer than the model"),
    ({"max_new_tokens": 0}, "max_new_tokens"),
    ({"check_tokens": 9, "max_new_tokens": 4}, "check_tokens"),
    ({"prompts": "one string"}, "prompts"),
    ({"latency_budget_s": 0}, "latency_budget_s"),
    ({"latency_budget_s": "2"}, "latency_budget_s"),
])
def test_bad_options_are_one_clear_error(tiny, kwargs, match):
    model, tok = tiny
    with pytest.raises(QuantrackError, match=match):
        quantrack.compare_lm(model, tok, [TEXT], **{"context": 64, **kwargs})


def test_not_a_language_model(tiny):
    from torch import nn

    _, tok = tiny
    with pytest.raises(QuantrackError, match="causal LM"):
        quantrack.compare_lm(nn.Linear(2, 2), tok, [TEXT])


def test_tracking_logs_a_child_run_per_variant(tiny, sqlite_uri):
    from mlflow import MlflowClient

    model, tok = tiny
    r = quantrack.compare_lm(model, tok, [TEXT], methods=["int8-weight-only"], context=64, max_windows=3,
                             max_new_tokens=2, tracking=sqlite_uri, experiment="lm-test", latency_budget_s=FAST)
    client = MlflowClient(sqlite_uri)
    run = client.get_run(r.mlflow["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["champion"] == r.champion
    assert run.data.params["context"] == "64" and run.data.tags["quantrack.kind"] == "compare-lm"
    children = {c.data.tags["quantrack.variant"]: c for c in client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")}
    assert sorted(children) == ["fp32", "int8-weight-only"]
    m = children["int8-weight-only"].data.metrics
    assert m["perplexity"] == pytest.approx(r.variant("int8-weight-only").score)
    assert {"increase", "increase_ci_hi", "tokens_per_s", "prefill_p50_us", "weight_bytes"} <= set(m)
    assert "peak_rss_bytes" in children["fp32"].data.metrics
