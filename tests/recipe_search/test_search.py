"""quantrack.search on a small MLP with test-local methods: the champion is the best within budget
(not the first), judged on held-out rows; failures are recorded; it stops on time and trials;
a cache makes a second run redo nothing; there is always an answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fake_methods as fm
import quantrack
from quantrack.errors import QuantrackError
from quantrack.recipe_search.split import split_rows

FAST = dict(latency_budget_s=0.05, model_kind="mlp")  # a test needs no settled latency


@pytest.fixture(scope="module")
def data():
    return fm.data_and_model()


@pytest.fixture(autouse=True)
def fakes(monkeypatch, tmp_path):
    fm.register(monkeypatch)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "applies.jsonl"))
    monkeypatch.delenv("FAKE_SLEEP", raising=False)


class Lines:
    def __init__(self):
        self.lines = []

    def stage(self, text):
        pass

    def notice(self, text):
        self.lines.append(text)


def _search(data, **kw):
    model, X, y = data
    options = dict(max_drop=0.03, objective="size", time_budget_s=120, methods=[fm.FAKE], **FAST)
    options.update(kw)
    return quantrack.search(model, calibration=X[:300], eval_data=(X[300:], y[300:]), **options)


def _applies(tmp_path):
    path = tmp_path / "applies.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_champion_is_the_best_within_budget_not_the_first(data, tmp_path):
    r = _search(data, out=tmp_path / "out")
    s = r.search
    trials = {t["id"]: t for t in s["trials"]}
    within = [t for t in s["trials"] if t["within_budget"]]
    assert trials[0]["recipe"]["config"] == {} and trials[0]["within_budget"]  # defaults first, and they pass
    champ = trials[s["champion_trial"]]
    assert champ["id"] != 0 and champ["file_bytes"] == min(t["file_bytes"] for t in within)
    assert r.champion == f"{champ['label']} [trial {champ['id']}]"
    assert s["finalists"][0]["trial"] == champ["id"] and s["finalists"][0]["within_budget"]
    saved = json.loads((tmp_path / "out" / "report.json").read_text())["search"]
    for key in ("trials", "selection_rows", "held_out_rows", "pareto", "stopped_because", "seconds"):
        assert key in saved
    for t in saved["trials"]:
        for key in ("recipe", "method", "status", "reason", "score", "file_bytes", "latency", "seconds", "cached"):
            assert key in t
    assert "## Search" in (tmp_path / "out" / "report.md").read_text()
    assert (tmp_path / "out" / "models" / "fp32.pt").exists()


def test_rows_that_chose_and_rows_that_judged(data):
    model, X, y = data
    r = _search(data)
    s = r.search
    assert s["selection_rows"] + s["held_out_rows"] == len(X) - 300
    split = split_rows(len(X) - 300, y[300:], seed=0)
    assert not set(split.selection.tolist()) & set(split.held_out.tolist())
    assert (s["selection_rows"], s["held_out_rows"]) == (len(split.selection), len(split.held_out))
    # The champion's reported score is its score on the held-out rows, recomputed here.
    champ = next(t for t in s["trials"] if t["id"] == s["champion_trial"])
    from quantrack.methods.base import QuantContext

    variant = fm.apply_fake(QuantContext(model=model, example=X[:2], config=fm.FakeConfig(**champ["recipe"]["config"])))
    held = X[300:][split.held_out]
    expected = float((variant.predict(held) == y[300:][split.held_out]).mean())
    assert r.variant(r.champion).score == pytest.approx(expected)
    assert r.variant(r.champion).stats.rows == s["held_out_rows"]


def test_failures_and_missing_packages_are_recorded_and_the_search_goes_on(data):
    s = _search(data, methods=[fm.FAKE, fm.MISSING]).search
    failed = [t for t in s["trials"] if t["status"] == "failed"]
    assert failed and all(t["reason"] == "RuntimeError: fake failure on purpose" for t in failed)
    missing = [t for t in s["trials"] if t["method"] == fm.MISSING]
    assert len(missing) == 1 and missing[0]["status"] == "unavailable"  # its knob variants are not tried
    assert "no_such_module_for_quantrack_tests" in missing[0]["reason"]
    assert max(t["id"] for t in failed) < max(t["id"] for t in s["trials"]) or s["stopped_because"] == "exhausted"
    assert s["refused_combinations"] == {fm.FAKE: 1}  # bits=2 with fail=True is not a recipe
    assert s["stopped_because"] == "exhausted"
    assert {t["status"] for t in s["trials"]} == {"ok", "failed", "unavailable"}


def test_pareto_front_is_the_non_dominated_trials(data):
    s = _search(data).search
    ok = [t for t in s["trials"] if t["status"] == "ok"]

    def beats(a, b):
        ka = (-a["score"], a["file_bytes"], a["latency"]["p50_us"])
        kb = (-b["score"], b["file_bytes"], b["latency"]["p50_us"])
        return all(x <= y for x, y in zip(ka, kb)) and ka != kb

    assert s["pareto"] == [t["id"] for t in ok if not any(beats(o, t) for o in ok)]


def test_always_an_answer(data):
    r = _search(data, max_drop=0.0)  # no interval can be shown within a drop of 0
    assert r.champion == "fp32" and r.champion_rule == "baseline"
    assert "fp32 is shipped" in r.champion_reason
    assert r.variants[0].name == "fp32" and r.variants[0].score is not None


def test_a_finalist_that_fails_the_held_out_rows_is_not_shipped(data):
    model, X, y = data
    X = X.copy()
    rows = len(X) - 300
    held = split_rows(rows, y[300:], seed=0).held_out
    X[300 + held, -1] = fm.MARK + 1  # fake-marker rotates the classes on these rows: the held-out ones
    r = quantrack.search(model, calibration=X[:300], eval_data=(X[300:], y[300:]), max_drop=0.03,
                         objective="size", methods=[fm.MARKER], **FAST)
    s = r.search
    trial = s["trials"][0]
    assert trial["within_budget"] and trial["drop"] == 0.0  # perfect on the selection rows
    assert len(s["finalists"]) == 1 and s["finalists"][0]["within_budget"] is False
    assert s["finalists"][0]["held_out_drop"] > 0.03
    assert r.champion == "fp32" and "held-out" in r.champion_reason


def test_trial_budget(data):
    s = _search(data, max_trials=3).search
    assert len(s["trials"]) == 3 and s["stopped_because"] == "trial budget"


def test_time_budget_ends_within_budget_plus_one_trial(data, monkeypatch):
    monkeypatch.setenv("FAKE_SLEEP", "0.5")
    budget = 2.0
    s = _search(data, time_budget_s=budget).search
    assert s["stopped_because"] == "time budget"
    longest = max(t["seconds"] for t in s["trials"])
    assert 1 <= len(s["trials"]) < 7
    assert s["search_seconds"] <= budget + longest + 0.5
    assert s["seconds"] <= budget + longest + 2.0  # + judging the finalists on the held-out rows


def test_cache_makes_a_second_run_redo_nothing(data, tmp_path):
    first = _search(data, cache=tmp_path / "cache")
    before = len(_applies(tmp_path))
    lines = Lines()
    second = _search(data, cache=tmp_path / "cache", progress=lines)
    assert all(t["cached"] for t in second.search["trials"])
    assert second.search["cache"]["hits"] == len(first.search["trials"])
    rebuilt = [x for x in lines.lines if x.startswith("rebuilding trial")]
    assert len(_applies(tmp_path)) - before == len(rebuilt) <= 3  # only finalists are rebuilt to judge them
    assert second.champion == first.champion
    assert [t["score"] for t in second.search["trials"]] == [t["score"] for t in first.search["trials"]]


def test_another_model_misses_the_cache(data, tmp_path):
    model, X, y = data
    _search(data, cache=tmp_path / "cache", max_trials=2)
    import copy

    import torch

    other = copy.deepcopy(model)
    with torch.no_grad():
        other[0].bias.add_(0.01)
    r = quantrack.search(other, calibration=X[:300], eval_data=(X[300:], y[300:]), max_drop=0.03, objective="size",
                         methods=[fm.FAKE], cache=tmp_path / "cache", max_trials=2, **FAST)
    assert not any(t["cached"] for t in r.search["trials"])


@pytest.mark.parametrize("kw,match", [
    (dict(objective="speed"), "objective"),
    (dict(time_budget_s=0), "time_budget_s"),
    (dict(max_trials=0), "max_trials"),
    (dict(methods=["mixed-int8"]), "per-layer float fallback is a strategy"),
    (dict(methods=["nope"]), "unknown method"),
    (dict(max_drop=1.5), "fraction"),
    (dict(held_out=1.0), "held_out"),
    (dict(workers=0), "workers"),
    (dict(ray_address="no-port"), "HOST:PORT"),
])
def test_bad_options_are_one_line(data, kw, match):
    with pytest.raises(QuantrackError, match=match) as e:
        _search(data, **kw)
    assert "\n" not in str(e.value)


def test_top_level_name_is_the_search():
    import quantrack.recipe_search.recipe  # noqa: F401  (the package is imported: quantrack.search still calls the search)

    assert callable(quantrack.search) and "search" in quantrack.__all__
