"""quantrack.compare on models quantrack never built: the library promise of issue 10 (and multi-input)."""

from __future__ import annotations

import json
from pathlib import Path
import os
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import quantrack
from quantrack.core.budget import Budget
from quantrack.errors import QuantrackError

FAST = {"batch_sizes": (1, 32), "latency_budget_s": 0.02}


class UserNet(nn.Module):
    """Written by a user: residual block, LayerNorm, GELU, dropout (so eval/train mode matters)."""

    def __init__(self, n_features: int = 64, n_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.block = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Dropout(0.1))
        self.out = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        return self.out(h + self.block(h))


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    tr, te = order[:1400], order[1400:]
    return X[tr], y[tr], X[te], y[te]


@pytest.fixture(scope="module")
def user_model(digits):
    X, y, _, _ = digits
    torch.manual_seed(0)
    model = UserNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    model.train()  # left in training mode on purpose: compare must not change it
    model.out.weight.requires_grad_(False)  # and a frozen layer must stay frozen
    return model


def test_a_user_model_goes_through_compare_untouched_and_writes_nothing(user_model, digits, tmp_path, monkeypatch):
    X, y, Xt, yt = digits
    monkeypatch.chdir(tmp_path)
    before = {k: v.clone() for k, v in user_model.state_dict().items()}
    grads = {n: p.requires_grad for n, p in user_model.named_parameters()}
    report = quantrack.compare(user_model, calibration=X[:512], eval_data=(Xt, yt), methods="all", tracking=None,
                               out=None, **FAST)
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory
    state = user_model.state_dict()
    assert state.keys() == before.keys() and all(torch.equal(state[k], before[k]) for k in state)
    assert user_model.training and {n: p.requires_grad for n, p in user_model.named_parameters()} == grads

    from quantrack.methods import ALL_METHODS

    assert [v.name for v in report.variants] == ["fp32", *ALL_METHODS]
    user_model.eval()
    with torch.no_grad():
        own = float((user_model(torch.from_numpy(Xt)).argmax(1).numpy() == yt).mean())
    user_model.train()
    fp32 = report.variant("fp32")
    assert fp32.accuracy == own and fp32.score == own
    int8 = [v.name for v in report.variants if v.available and "int8" in v.name]
    assert len(int8) >= 2, [(v.name, v.reason) for v in report.variants]
    for v in report.variants:
        assert v.available or (v.reason and "\n" not in v.reason)
    assert report.champion in {v.name for v in report.variants if v.available}
    json.dumps(report.to_dict())  # the report.json form


def test_qat_needs_labels_and_static_methods_need_calibration(user_model, digits):
    _, _, Xt, yt = digits
    no_labels = quantrack.compare(user_model, calibration=Xt[:64], eval_data=(Xt, yt),
                                  methods=["qat-int8", "dynamic-int8"], **FAST)
    assert "needs labels" in no_labels.variant("qat-int8").reason
    assert no_labels.variant("dynamic-int8").available
    none = quantrack.compare(user_model, eval_data=(Xt, yt), methods=["onnx-int8-static", "onnx-int8-dynamic"], **FAST)
    assert "needs calibration data" in none.variant("onnx-int8-static").reason
    assert none.variant("onnx-int8-dynamic").available


def test_process_wide_settings_are_restored(user_model, digits):
    _, _, Xt, yt = digits
    torch.set_num_threads(2)
    engine = torch.backends.quantized.engine
    filters = list(warnings.filters)
    env = dict(os.environ)
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    quantrack.compare(user_model, calibration=(Xt[:64], yt[:64]), eval_data=(Xt, yt), threads=1,
                      methods=["static-int8", "qat-int8", "dynamic-int8"], **FAST)
    assert torch.get_num_threads() == 2
    assert torch.backends.quantized.engine == engine
    assert warnings.filters == filters
    assert dict(os.environ) == env
    assert torch.equal(torch.rand(3), expected_draw)  # the caller's random stream goes on as if nothing ran


def test_out_writes_the_report_and_the_variants(user_model, digits, tmp_path):
    _, _, Xt, yt = digits
    report = quantrack.compare(user_model, calibration=Xt[:64], eval_data=(Xt, yt),
                               methods=["dynamic-int8", "onnx-int8-dynamic"], out=tmp_path / "out", **FAST)
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"report.json", "report.md", "report.html", "plots", "models"} <= files
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["champion"] == report.champion and saved["score_name"] == "accuracy"
    assert {p.name for p in (tmp_path / "out" / "models").iterdir()} == {
        v.artifact for v in report.variants if v.available}
    assert "UserNet" in (tmp_path / "out" / "report.md").read_text()


def test_tracking_logs_one_run_with_every_variant(user_model, digits, sqlite_uri, tmp_path):
    import json

    _, _, Xt, yt = digits
    report = quantrack.compare(user_model, eval_data=(Xt, yt), methods=["dynamic-int8"], tracking=sqlite_uri,
                               experiment="compare-test", out=tmp_path / "out", **FAST)
    saved = json.loads((tmp_path / "out" / "report.json").read_text())  # it said "mlflow": {} (saved first)
    assert saved["mlflow"]["run_id"] == report.mlflow["run_id"] and saved["mlflow"]["tracking_uri"] == sqlite_uri
    assert report.mlflow["run_id"] in (tmp_path / "out" / "report.html").read_text()
    from mlflow import MlflowClient

    client = MlflowClient(sqlite_uri)
    run = client.get_run(report.mlflow["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["champion"] == report.champion
    children = {r.data.tags["quantrack.variant"]: r for r in client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")}
    assert sorted(children) == ["dynamic-int8", "fp32"]
    assert children["fp32"].data.metrics["accuracy"] == report.variant("fp32").accuracy
    assert "p50_us" in children["dynamic-int8"].data.metrics


def test_a_tracker_given_receives_the_report_once_and_stays_open(user_model, digits, tmp_path):
    """No store needed: the caller's run (here in memory) gets the children, tags and files, each once."""
    from quantrack.tracking.memory import MemoryTracker

    _, _, Xt, yt = digits
    tracker = MemoryTracker()
    tracker.start("mine", {"who": "caller"})
    report = quantrack.compare(user_model, eval_data=(Xt, yt), methods=["dynamic-int8"], tracker=tracker,
                               out=tmp_path / "out", facts={"best_epoch": 7, "train_seconds": 0.5}, **FAST)
    assert report.mlflow == tracker.info and tracker.status == "RUNNING"  # the caller ends its run
    assert report.best_epoch == 7 and json.loads((tmp_path / "out" / "report.json").read_text())["best_epoch"] == 7
    assert sorted(tracker.children) == ["dynamic-int8", "fp32"]
    assert tracker.children["fp32"]["metrics"]["accuracy"] == report.variant("fp32").accuracy
    assert tracker.tags["champion"] == report.champion and tracker.params == {"who": "caller"}
    paths = [str(Path(where or "", Path(local).name)) for local, where in tracker.artifacts]
    assert len(paths) == len(set(paths))  # nothing logged twice
    assert {"report/report.json", "report/report.html", "models/fp32.pt", "models/dynamic-int8.pt"} <= set(paths)


def test_a_tracker_and_tracking_together_are_refused(user_model):
    from quantrack.tracking.memory import MemoryTracker

    with pytest.raises(QuantrackError, match="either tracker= .* or tracking="):
        quantrack.compare(user_model, eval_data=(np.zeros((5, 64), np.float32), np.zeros(5, np.int64)),
                          tracker=MemoryTracker(), tracking=True, **FAST)
    with pytest.raises(QuantrackError, match="facts: 'champion_mood' is not a Report field"):
        quantrack.compare(user_model, eval_data=(np.zeros((5, 64), np.float32), np.zeros(5, np.int64)),
                          facts={"champion_mood": 1}, **FAST)


@pytest.mark.parametrize("kwargs, message", [
    ({"methods": ["int3"]}, "unknown method 'int3'"),
    ({"max_drop": -1}, "max_drop must be"),
    ({"max_drop": 1}, r"accuracy is a fraction, so max_drop is too \(0.01 = 1 point\); for 1 points pass max_drop=0.01"),
    ({"max_drop": 150}, "cannot be a drop of accuracy"),
    ({"confidence": 1.5}, "confidence must be between 0.5 and 1"),
    ({"budget": {"max_drop": 0.01}}, "budget must be a quantrack.core.budget.Budget"),
    ({"budget": Budget(0.01), "max_drop": 0.02}, "pass either budget= or max_drop=, not both"),
    ({"budget": Budget(0.01), "confidence": None}, "pass either budget= or confidence=, not both"),
    ({"prefer": "speed"}, "prefer must be one of"),
    ({"batch_sizes": (0,)}, "batch_sizes must be"),
    ({"eval_data": (np.zeros((5, 64), np.float32), np.zeros(4, np.int64))}, "5 rows of inputs but 4 labels"),
    ({"eval_data": (np.zeros((5, 64), np.float32), np.full(5, 10))}, "labels go up to 10"),
    ({"eval_data": (np.zeros((5, 64), np.float32), np.zeros(5, np.float32))}, "one integer class index"),
    ({"eval_data": np.zeros((5, 64), np.float32)}, "needs labels"),
    ({"eval_data": (np.zeros((5, 3), np.float32), np.zeros(5, np.int64))}, "does not run on eval_data"),
    ({"eval_data": None}, "eval_data is required"),
])
def test_bad_arguments_are_one_clear_error(user_model, kwargs, message):
    args = {"eval_data": (np.zeros((5, 64), np.float32), np.zeros(5, np.int64)), **FAST, **kwargs}
    with pytest.raises(QuantrackError, match=message):
        quantrack.compare(user_model, methods=args.pop("methods", ["dynamic-int8"]), **args)


def test_not_a_module_is_refused():
    with pytest.raises(QuantrackError, match="torch.nn.Module"):
        quantrack.compare(lambda x: x, eval_data=(np.zeros((2, 2)), np.zeros(2, int)))


class TwoInputNet(nn.Module):
    """Token ids (int64) and a mask, like a transformer's forward; mean-pooled embeddings out."""

    def __init__(self, vocab: int = 50, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.proj = nn.Sequential(nn.Linear(width, 64), nn.ReLU(), nn.Linear(64, width))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.proj(self.embed(input_ids))
        mask = attention_mask.unsqueeze(-1).to(h.dtype)
        return (h * mask).sum(1) / mask.sum(1).clamp(min=1)


def cosine(outputs: np.ndarray, reference: np.ndarray) -> float:
    num = (outputs * reference).sum(1)
    return float(np.mean(num / (np.linalg.norm(outputs, axis=1) * np.linalg.norm(reference, axis=1))))


def test_several_integer_inputs_and_a_metric():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 50, size=(80, 12)).astype(np.int64)
    mask = (rng.random((80, 12)) > 0.2).astype(np.int64)
    torch.manual_seed(0)
    report = quantrack.compare(TwoInputNet(), calibration=(ids[:40], mask[:40]), eval_data=(ids, mask),
                               metric=cosine, max_drop=0.01, eval_batch_size=16, **FAST)
    assert report.score_name == "cosine"
    fp32 = report.variant("fp32")
    assert fp32.score == pytest.approx(1.0, abs=1e-6) and fp32.accuracy is None and fp32.agreement is None
    for name in ("dynamic-int8", "int8-weight-only", "onnx-fp32", "onnx-int8-dynamic"):
        v = report.variant(name)
        assert v.available, (name, v.reason)
        assert 0.9 < v.score <= 1.0 + 1e-6
    assert report.variant("onnx-fp32").score == pytest.approx(1.0, abs=1e-5)
    assert "QuantStub" in report.variant("static-int8").reason  # eager mode wraps one float input only


def test_quantize_gives_the_variant_compare_scored(tmp_path):
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 50, size=(40, 12)).astype(np.int64)
    mask = np.ones((40, 12), np.int64)
    torch.manual_seed(0)
    model = TwoInputNet()
    report = quantrack.compare(model, calibration=(ids, mask), eval_data=(ids, mask), metric=cosine,
                               methods=["onnx-int8-dynamic", "dynamic-int8"], eval_batch_size=40, **FAST)
    for name in ("onnx-int8-dynamic", "dynamic-int8"):
        variant = quantrack.quantize(model, name, calibration=(ids, mask))
        fp32 = quantrack.quantize(model, "fp32", calibration=(ids, mask))
        assert cosine(variant.outputs((ids, mask)), fp32.outputs((ids, mask))) == pytest.approx(
            report.variant(name).score, abs=1e-6)
        assert variant.save(tmp_path).stat().st_size == report.variant(name).file_bytes
    with pytest.raises(QuantrackError, match="static-int8 is unavailable"):
        quantrack.quantize(model, "static-int8", calibration=(ids, mask))


def test_the_budget_is_built_once_and_recorded_as_decided(user_model, digits):
    """max_drop/confidence/prefer and budget=Budget(...) are one value; report.json records it."""
    _, _, X, y = digits
    args = dict(eval_data=(X[:120], y[:120]), methods=["fp16"], **FAST)
    by_words = quantrack.compare(user_model, max_drop=0.02, prefer="latency", **args)
    by_value = quantrack.compare(user_model, budget=Budget(0.02, prefer="latency"), **args)
    expected = {"max_drop": 0.02, "confidence": 0.95, "prefer": "latency", "score_name": "accuracy"}
    for report in (by_words, by_value):
        assert report.budget == expected and report.max_drop == 0.02 and report.prefer == "latency"
        assert report.to_dict()["budget"] == expected
    assert by_words.champion_rule == by_value.champion_rule
    on_points = quantrack.compare(user_model, max_drop=0.02, confidence=None, **args)
    assert on_points.budget["confidence"] is None and on_points.champion_rule in ("point-estimate", "baseline")


def test_configs_reach_their_method_and_report_json_records_every_variants_config(user_model, digits, tmp_path):
    from quantrack.methods.onnx_int8_dynamic import OnnxDynamicConfig
    from quantrack.methods.qat_int8 import QatConfig

    X, y, Xt, yt = digits
    report = quantrack.compare(user_model, calibration=(X[:200], y[:200]), eval_data=(Xt[:100], yt[:100]),
                               methods=["qat-int8", "onnx-int8-dynamic", "fp16"], out=tmp_path,
                               configs={"onnx-int8-dynamic": OnnxDynamicConfig(per_channel=True)}, **FAST)
    saved = {v["name"]: v["config"] for v in json.loads((tmp_path / "report.json").read_text())["variants"]}
    given = OnnxDynamicConfig(per_channel=True).to_dict()  # every knob, the unset per-graph ones as None
    assert given["per_channel"] is True and given["weight_type"] == "QInt8"
    assert saved["onnx-int8-dynamic"] == given
    assert saved["qat-int8"] == QatConfig().to_dict() == {"epochs": 3, "lr": 0.01, "batch_size": 32}
    assert saved["fp16"] == {} and saved["fp32"] == {}
    assert report.variant("onnx-int8-dynamic").config == given
    assert report.variant("onnx-int8-dynamic").recipe["per_channel"] is True  # the one decided per graph: as given


@pytest.mark.parametrize("configs, message", [
    ({"qat-int8": {"epochs": 1}}, "qat-int8 takes a quantrack.methods.qat_int8.QatConfig, got dict"),
    ({"int3": None}, "unknown method 'int3'"),
    ({"fp16": None}, "configs names 'fp16', which is not among the methods compared"),
    ("qat-int8", "configs must be a dict"),
])
def test_a_config_of_the_wrong_kind_is_one_clear_error(user_model, configs, message):
    with pytest.raises(QuantrackError, match=message):
        quantrack.compare(user_model, methods=["qat-int8"], configs=configs,
                          eval_data=(np.zeros((5, 64), np.float32), np.zeros(5, np.int64)), **FAST)


def test_quantize_takes_the_methods_config_and_refuses_another(user_model, digits):
    from quantrack.methods.onnx_int8_dynamic import OnnxDynamicConfig
    from quantrack.methods.qat_int8 import QatConfig
    from quantrack.methods.static_int8 import StaticInt8Config

    X, y, _, _ = digits
    with pytest.raises(QuantrackError, match="qat-int8 takes a quantrack.methods.qat_int8.QatConfig, got StaticInt8Config"):
        quantrack.quantize(user_model, "qat-int8", (X[:64], y[:64]), config=StaticInt8Config())
    with pytest.raises(QuantrackError, match="QatConfig.epochs must be a positive integer"):
        QatConfig(epochs=0)
    variant = quantrack.quantize(UserNet(), "onnx-int8-dynamic", X[:64], config=OnnxDynamicConfig(per_channel=True))
    assert variant.name == "onnx-int8-dynamic" and variant.outputs(X[:3]).shape == (3, 10)
