"""Across trials: budget from the best fp32, ranking, the sweep's champion."""

from quantrack.core.budget import Budget
from quantrack.sweep.champion import choose, front
from quantrack.sweep.results import FAILED, Candidate, TrialResult


def trial(name, fp32_acc, *variants, status="FINISHED"):
    cands = [Candidate(name, "fp32", fp32_acc, 4400, 40.0, 7.0, "1")]
    cands += [Candidate(name, v, acc, size, p50, None, "2") for v, acc, size, p50 in variants]
    return TrialResult(name=name, params={}, status=status, champion="fp32", fp32_accuracy=fp32_acc,
                       candidates=cands)


TRIALS = [
    trial("t0", 0.95, ("int8", 0.948, 3400, 60.0), ("onnx", 0.95, 3000, 20.0)),
    trial("t1", 0.80, ("int8", 0.80, 1000, 10.0)),  # tiny and fast, but far below the best fp32
    trial("t2", 0.96, ("int8", 0.955, 3300, 55.0)),
]


def test_budget_counts_from_the_best_fp32_of_the_sweep():
    champ, why, ranking = choose(TRIALS, budget=Budget.from_points(1.0, prefer="size"))
    assert champ.key == "t0/onnx"  # t1's 1000 B int8 is 16 points below t2's fp32
    assert ranking == ["t0", "t2", "t1"]  # t1 has nothing within budget: last
    assert "96.00%" in why and "3,000 B" in why and "within 1 point of the best fp32" in why


def test_a_variant_exactly_at_the_budget_is_within_it():
    # 0.95 - 0.94 is 0.010000000000000009 in floats: Budget.within's one tolerance admits it
    champ, _, _ = choose([trial("t", 0.95, ("int8", 0.94, 1000, 10.0))], budget=Budget.from_points(1.0))
    assert champ.key == "t/int8"


def test_prefer_latency_takes_the_lowest_p50():
    champ, _, ranking = choose(TRIALS, budget=Budget.from_points(1.0, prefer="latency"))
    assert champ.key == "t0/onnx" and ranking[0] == "t0"
    champ, _, _ = choose(TRIALS, budget=Budget.from_points(20.0, prefer="latency"))
    assert champ.key == "t1/int8"


def test_failed_trials_do_not_count_and_no_finished_trial_means_no_champion():
    failed = [trial("t3", 0.99, ("int8", 0.99, 10, 1.0), status=FAILED)]
    champ, _, ranking = choose(TRIALS + failed, budget=Budget.from_points(1.0, prefer="size"))
    assert champ.trial != "t3" and "t3" not in ranking
    assert all(c.trial != "t3" for c in front(TRIALS + failed))
    assert choose(failed, budget=Budget.from_points(1.0, prefer="size"))[0] is None


def test_front_of_the_sweep():
    keys = {c.key for c in front(TRIALS)}
    assert "t1/int8" in keys and "t0/onnx" in keys and "t2/fp32" in keys
    assert "t0/int8" not in keys  # t0/onnx is more accurate, faster and smaller

