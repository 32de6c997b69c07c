import pytest

from quantrack.errors import QuantrackError
from quantrack.core.stats import PairedStats
from quantrack.core.results import Latency
from quantrack.lm.champion import budget_for, choose
from quantrack.lm.results import LMVariantResult


def _lat(p50, verdict=None):
    return Latency(1, 1, 30, p50, p50, p50, p50, p50, p50, True, verdict=verdict)


def _v(name, ppl, inc, ci, weight, p50=1000.0, verdict=None):
    stats = PairedStats(8, 0.95, ppl, (ppl - 1, ppl + 1), drop=None if name == "fp32" else inc,
                        drop_ci=None if name == "fp32" else ci)
    return LMVariantResult(name, score=ppl, stats=stats, weight_bytes=weight, decode=_lat(p50, verdict),
                           latency=[_lat(p50, verdict)])


BASE = _v("fp32", 15.0, None, None, 540)


def test_smallest_within_the_interval_wins():
    vs = [BASE, _v("bf16", 15.0, 0.0, (-0.001, 0.001), 270), _v("int8", 15.1, 0.006, (0.004, 0.009), 160),
          _v("int4", 17.6, 0.15, (0.13, 0.17), 100)]
    c = choose(vs, budget_for(0.02, "size"))
    assert c.name == "int8" and c.rule == "confident" and "+0.6 %" in c.reason


def test_lower_is_better_an_improvement_is_within():
    vs = [BASE, _v("odd", 14.0, -0.07, (-0.09, -0.05), 200)]
    assert choose(vs, budget_for(0.02, "size")).name == "odd"


def test_fp32_with_the_reason_when_nothing_qualifies():
    vs = [BASE, _v("int4", 17.6, 0.15, (0.13, 0.17), 100)]
    c = choose(vs, budget_for(0.02, "size"))
    assert c.name == "fp32" and "no variant stays within 2 %" in c.reason and c.rule == "baseline"
    wide = [BASE, _v("int8", 15.1, 0.01, (-0.01, 0.03), 160)]
    c = choose(wide, budget_for(0.02, "size"))
    assert c.name == "fp32" and "too few windows" in c.reason and "int8" in c.reason
    only = [BASE, LMVariantResult("hqq", available=False, reason="not installed")]
    assert choose(only, budget_for(0.02, "size")).name == "fp32"


def test_speed_needs_a_measured_faster_verdict():
    vs = [BASE, _v("a", 15.0, 0.0, (0.0, 0.01), 300, p50=500.0, verdict="faster"),
          _v("b", 15.0, 0.0, (0.0, 0.01), 200, p50=900.0, verdict="no measurable difference")]
    assert choose(vs, budget_for(0.02, "speed")).name == "a"
    assert choose(vs[:1] + vs[2:], budget_for(0.02, "speed")).name == "fp32"


def test_budget_is_validated_once():
    with pytest.raises(QuantrackError, match="prefer"):
        budget_for(0.02, "latency")
    with pytest.raises(QuantrackError, match="max_drop"):
        budget_for(-0.1, "size")
