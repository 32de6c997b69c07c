"""The champion rule: best variant within the accuracy budget, fp32 with a reason otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantrack.core.results import FASTER, SAME, SLOWER, Latency, VariantResult
from quantrack.core.budget import Budget
from quantrack.errors import QuantrackError
from quantrack.evaluate.champion import SIZE_TIE, choose_champion

N = 360  # test rows: accuracies are k / N, as in the digits split
ALL = 360


def lat(batch_size: int, p50: float, verdict: str | None = None) -> Latency:
    return Latency(batch_size, 1, 50, 0.9 * p50, 0.95 * p50, p50, 1.05 * p50, 1.1 * p50, 1.3 * p50, stable=True,
                   speedup=None if verdict is None else round(20.0 / p50, 3), verdict=verdict)


def variant(name: str, correct: int, file_bytes: int | None, p50: float = 20.0, verdict: str | None = SAME,
            **kw) -> VariantResult:
    return VariantResult(name, score=correct / N, accuracy=correct / N, file_bytes=file_bytes,
                         latency=[lat(1, p50 / 4, verdict), lat(ALL, p50, verdict)], **kw)


FP32 = variant("fp32", 346, 4453, verdict=None)  # 96.11%


def choose(variants, drop=1.0, prefer="size", batch_size=ALL):
    """The point-estimate rule (confidence=None); the confidence rule has its own tests below."""
    name, why, rule = choose_champion(variants, budget=Budget(drop / 100, confidence=None, prefer=prefer),
                                      batch_size=batch_size)
    assert rule == ("baseline" if name == "fp32" else "point-estimate")
    return name, why


# --- prefer=size ---------------------------------------------------------------------------------------------

def test_size_picks_the_smallest_file_within_the_budget():
    name, why = choose([FP32, variant("a", 345, 3300), variant("b", 343, 2000), variant("c", 330, 700)])
    assert name == "b"  # c is smaller still but 4.4 points below fp32
    assert why == "smallest file within 1 point of fp32: 2,000 B (0.45x of fp32), accuracy 95.28% vs 96.11%"


def test_a_variant_just_outside_the_budget_is_refused():
    name, why = choose([FP32, variant("b", 342, 2000)])  # 95.00% < 96.11% - 1
    assert name == "fp32"
    assert why == "no variant stays within 1 point of fp32's accuracy (best: b at 95.00% vs 96.11%)"


def test_a_drop_exactly_at_the_budget_is_within_it():
    # 3 rows of 300 are exactly 1 point, but in floats the drop looks a hair larger than the budget
    base = VariantResult("fp32", accuracy=152 / 300, file_bytes=100, latency=[lat(ALL, 20)])
    edge = VariantResult("edge", accuracy=149 / 300, file_bytes=50, latency=[lat(ALL, 20, SAME)])
    assert 149 / 300 < 152 / 300 - 1.0 / 100
    assert choose([base, edge])[0] == "edge"


def test_a_zero_budget_admits_only_equal_or_better_accuracy():
    assert choose([FP32, variant("a", 345, 1000), variant("b", 346, 3000)], drop=0)[0] == "b"
    assert choose([FP32, variant("better", 350, 3000)], drop=0)[0] == "better"


def test_a_generous_budget_lets_the_smallest_through():
    assert choose([FP32, variant("a", 345, 3300), variant("c", 330, 700)], drop=5)[0] == "c"


def test_within_budget_but_not_smaller_keeps_fp32():
    name, why = choose([FP32, variant("fp16-ish", 346, 4453), variant("big", 346, 9000)])
    assert (name, why) == ("fp32", "no variant within 1 point of fp32 has a smaller file")


def test_equal_files_are_separated_by_latency_then_name():
    slow, fast = variant("slow", 346, 2000, p50=30), variant("fast", 346, 2000, p50=10)
    assert choose([FP32, slow, fast])[0] == "fast"
    assert choose([FP32, variant("zeta", 346, 2000), variant("alpha", 346, 2000)])[0] == "alpha"


def test_files_within_one_percent_of_the_smallest_are_a_tie_that_speed_breaks():
    # the eager/compiled twins of one recipe: the same int8 tensors, a few bytes of metadata apart
    eager, compiled = variant("eager", 346, 2000, p50=300), variant("compiled", 346, 2015, p50=12)
    name, why = choose([FP32, eager, compiled])
    assert name == "compiled"
    assert why == ("smallest file within 1 point of fp32: 2,015 B (0.45x of fp32), accuracy 96.11% vs 96.11%; "
                   f"the fastest at batch {ALL} of the files within 1% of the smallest (also eager)")
    # 2 % larger is a real difference: the smaller file wins however slow it is
    assert choose([FP32, eager, variant("bigger", 346, 2040, p50=12)])[0] == "eager"


def test_a_size_tie_goes_to_the_better_side_by_side_speedup_not_the_lower_p50():
    # timed minutes apart: "loaded" has the lower p50 but lost to fp32 in its own windows; "steady" did not
    loaded, steady = variant("loaded", 346, 2000, p50=10), variant("steady", 346, 2010, p50=15)
    for v, speedup in ((loaded, 0.7), (steady, 0.9)):
        for lat_ in v.latency:
            lat_.speedup = speedup
    assert choose([FP32, loaded, steady])[0] == "steady"


def test_unavailable_and_unmeasured_variants_never_win():
    gone = variant("gone", 346, 10, available=False, reason="missing package")
    unmeasured = VariantResult("unmeasured", accuracy=None, file_bytes=20)
    no_size = variant("no-size", 346, None)
    assert choose([FP32, gone, unmeasured, no_size, variant("ok", 346, 3000)])[0] == "ok"


def test_nothing_ran_keeps_fp32_with_the_reason():
    gone = [VariantResult("static-int8", available=False, reason="x"), VariantResult("fp16", available=False)]
    assert choose([FP32, *gone]) == ("fp32", "no quantized variant could run, so fp32 is shipped")
    assert choose([FP32, *gone], prefer="latency")[0] == "fp32"


def test_only_fp32_measured_keeps_fp32():
    assert choose([FP32]) == ("fp32", "only fp32 was measured, so fp32 is shipped")


def test_the_ratio_in_the_reason_comes_from_the_bytes():
    pick = variant("a", 346, 1113, file_ratio=None)  # ratios are filled in late by the pipeline
    assert "1,113 B (0.25x of fp32)" in choose([FP32, pick])[1]


def test_budget_wording_is_plural_when_it_should_be():
    assert "within 2.5 points of fp32" in choose([FP32, variant("a", 346, 100)], drop=2.5)[1]


# --- prefer=latency ------------------------------------------------------------------------------------------

def test_latency_needs_a_measured_faster_verdict():
    # lower median but spreads overlap: not a measured difference, so it cannot displace fp32
    overlapping = variant("overlap", 346, 1000, p50=15, verdict=SAME)
    name, why = choose([FP32, overlapping, variant("slow", 346, 1000, p50=40, verdict=SLOWER)], prefer="latency")
    assert name == "fp32"
    assert why == f"no variant within 1 point of fp32 is measurably faster than fp32 at batch {ALL}"


def test_latency_picks_the_fastest_measured_faster_variant_in_budget():
    variants = [FP32, variant("small", 346, 500, p50=19, verdict=SAME),
                variant("quick", 345, 6000, p50=8, verdict=FASTER),
                variant("quicker", 345, 6000, p50=5, verdict=FASTER),
                variant("quickest-but-wrong", 300, 6000, p50=2, verdict=FASTER)]
    name, why = choose(variants, prefer="latency")
    assert name == "quicker"
    assert why == f"fastest within 1 point of fp32: 4.00x at batch {ALL}, accuracy 95.83% vs 96.11%"
    assert choose(variants, prefer="size")[0] == "small"  # the same measurements, the other preference


def test_latency_verdict_must_be_at_the_chosen_batch_size():
    only_b1 = VariantResult("b1-only", accuracy=346 / N, file_bytes=1000,
                            latency=[lat(1, 2, FASTER), lat(ALL, 30, SLOWER)])
    assert choose([FP32, only_b1], prefer="latency", batch_size=ALL)[0] == "fp32"
    assert choose([FP32, only_b1], prefer="latency", batch_size=1)[0] == "b1-only"


def test_latency_without_a_timing_at_that_batch_does_not_win():
    untimed = VariantResult("untimed", accuracy=346 / N, file_bytes=1000, latency=[lat(1, 2, FASTER)])
    assert choose([FP32, untimed], prefer="latency", batch_size=ALL)[0] == "fp32"


def test_latency_reason_survives_a_missing_speedup():
    faster = variant("f", 346, 1000, p50=10, verdict=FASTER)
    faster.latency_at(ALL).speedup = None
    assert "2.00x at batch 360" in choose([FP32, faster], prefer="latency")[1]


# --- misuse --------------------------------------------------------------------------------------------------

def test_a_missing_baseline_is_a_programming_error_and_an_unknown_preference_a_bad_budget():
    with pytest.raises(ValueError, match="fp32 baseline"):
        choose([variant("a", 346, 10)])
    with pytest.raises(QuantrackError, match="prefer must be one of size, latency"):
        choose([FP32, variant("a", 346, 10)], prefer="accuracy")


# --- the rule as a property ----------------------------------------------------------------------------------

candidates = st.lists(
    st.tuples(st.integers(300, 360), st.integers(100, 9000), st.floats(1, 100), st.sampled_from([FASTER, SLOWER, SAME]),
              st.booleans()),
    max_size=8)


@settings(max_examples=150, deadline=None)
@given(candidates, st.sampled_from([0.0, 0.5, 1.0, 3.0]), st.sampled_from(["size", "latency"]))
def test_the_champion_is_fp32_or_the_best_admissible_variant(specs, drop, prefer):
    others = [variant(f"v{i}", correct, size, p50, verdict, available=ok)
              for i, (correct, size, p50, verdict, ok) in enumerate(specs)]
    name, why = choose([FP32, *others], drop=drop, prefer=prefer)
    assert why
    admissible = [v for v in others if v.available and 100 * (FP32.accuracy - v.accuracy) <= drop + 1e-9]
    if prefer == "size":
        admissible = [v for v in admissible if v.file_bytes < FP32.file_bytes]
        smallest = min((v.file_bytes for v in admissible), default=None)
        # a file within SIZE_TIE of the smallest is a tie, which the fastest of them wins
        admissible = [v for v in admissible if v.file_bytes <= smallest * (1 + SIZE_TIE)]
    else:
        admissible = [v for v in admissible if v.latency_at(ALL).verdict == FASTER]
    best = min((v.latency_at(ALL).p50_us for v in admissible), default=None)
    if best is None:
        assert name == "fp32"
    else:
        chosen = next(v for v in others if v.name == name)
        assert chosen in admissible
        assert chosen.latency_at(ALL).p50_us == best


# --- the confidence rule -------------------------------------------------------------------------------------

def paired(name: str, n: int, only_base: int, only_var: int, file_bytes: int, verdict: str | None = SAME,
           base_right: int | None = None) -> VariantResult:
    """A variant measured on n rows against an fp32 that got ``base_right`` right (default: 96 %)."""
    import numpy as np

    from quantrack.core.stats import paired_stats

    base_right = round(0.96 * n) if base_right is None else base_right
    base = np.zeros(n, dtype=bool)
    base[:base_right] = True
    var = base.copy()
    var[:only_base] = False  # rows fp32 got right and the variant not
    var[base_right:base_right + only_var] = True  # and the other way round
    stats = paired_stats(base, None if name == "fp32" else var)
    return VariantResult(name, accuracy=stats.score, file_bytes=file_bytes, stats=stats,
                         latency=[lat(1, 5, verdict), lat(ALL, 20, verdict)])


def choose_confident(variants, drop=1.0, prefer="size"):
    return choose_champion(variants, budget=Budget(drop / 100, confidence=0.95, prefer=prefer), batch_size=ALL)


def test_confident_rule_takes_a_variant_whose_whole_drop_interval_is_within_budget():
    n = 5000
    base = paired("fp32", n, 0, 0, 4453, verdict=None)
    name, why, rule = choose_confident([base, paired("tight", n, 3, 1, 1000), paired("loose", n, 60, 10, 500)])
    # loose: 50 rows of 5000 = exactly 1 point on the point estimate, its interval reaches beyond
    assert (name, rule) == ("tight", "confident")
    assert why.startswith("smallest file shown within 1 point of fp32 at 95% confidence: 1,000 B")
    assert "drop at most" in why


def test_too_few_rows_to_tell_ships_fp32_and_names_the_point_estimate_candidates():
    n = 30  # iris-sized: one row is 3.3 points
    base = paired("fp32", n, 0, 0, 4453, verdict=None)
    same, twin = paired("same", n, 0, 0, 1000), paired("twin", n, 0, 0, 1100)
    worse = paired("one-row-worse", n, 1, 0, 900)
    name, why, rule = choose_confident([base, same, twin, worse])
    assert (name, rule) == ("fp32", "baseline")
    assert why.startswith("the evaluation set is too small to tell: no variant can be shown within 1 point of fp32 "
                          "at 95% confidence on 30 rows, so fp32 is shipped; within budget on the point estimate "
                          "alone: same, twin (each: right on exactly fp32's rows, interval ")
    assert "one-row-worse" not in why  # 3.3 points below fp32: over budget even on the point estimate
    need = same.stats.rows_to_settle(0.01)
    assert f"about {need:,} rows would settle it" in why and need > n


def test_point_estimate_over_budget_everywhere_is_not_called_too_small():
    n = 360
    base = paired("fp32", n, 0, 0, 4453, verdict=None)
    name, why, rule = choose_confident([base, paired("bad", n, 20, 0, 100)])
    assert (name, rule) == ("fp32", "baseline")
    assert why.startswith("no variant stays within 1 point of fp32's accuracy (best: bad at")


def test_the_same_measurements_under_both_rules():
    n = 360
    variants = [paired("fp32", n, 0, 0, 4453, verdict=None), paired("a", n, 1, 0, 1000)]
    assert choose_champion(variants, budget=Budget(0.01, confidence=None), batch_size=ALL)[::2] == \
        ("a", "point-estimate")
    assert choose_confident(variants)[::2] == ("fp32", "baseline")


def test_confident_rule_refuses_missing_or_mismatched_stats():
    with pytest.raises(ValueError, match="paired stats"):
        choose_confident([FP32, variant("a", 346, 10)])
    base = paired("fp32", 100, 0, 0, 4453, verdict=None)
    with pytest.raises(ValueError, match="another confidence"):
        choose_champion([base, paired("a", 100, 0, 0, 10)], budget=Budget(0.01, confidence=0.9), batch_size=ALL)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 4), st.integers(100, 9000)), min_size=1, max_size=5),
       st.sampled_from([200, 1000, 20000]), st.sampled_from([0.5, 1.0, 2.0]))
def test_a_confident_champion_always_has_its_interval_within_budget(specs, n, drop):
    variants = [paired("fp32", n, 0, 0, 4453, verdict=None)]
    variants += [paired(f"v{i}", n, ob, ov, size) for i, (ob, ov, size) in enumerate(specs)]
    name, why, rule = choose_confident(variants, drop=drop)
    if rule == "confident":
        assert next(v for v in variants if v.name == name).drop_ci[1] <= drop / 100 + 1e-12
    else:
        assert name == "fp32" and rule == "baseline" and why


def test_a_variant_predicting_every_row_like_fp32_is_said_so_briefly():
    n = 171
    base = paired("fp32", n, 0, 0, 4453, verdict=None)
    twin = paired("twin", n, 0, 0, 1000)
    twin.agreement = 1.0
    _, why, rule = choose_confident([base, twin])
    assert rule == "baseline"
    assert "twin (every row predicted as fp32 does, interval " in why
    assert "drop 0.00" not in why  # the figures that said nothing new are gone
    assert len(why) < 330, len(why)
