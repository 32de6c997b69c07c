"""The machine's facts, and one-line reasons derived from them (never a speed assumption about this CPU)."""

from __future__ import annotations

from pathlib import Path

from quantrack.core.cpu import FLAGS, cpu_line
from quantrack.evaluate.hardware import cpu_facts, explain, parse_cpuinfo
from quantrack.tracking.report_run import cpu_tags
from quantrack.core.results import FASTER, SAME, SLOWER, Latency

EPYC_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 avx f16c fma avx2 bmi2 sha_ni
processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 avx f16c fma avx2 bmi2 sha_ni
"""
SAPPHIRE = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: avx2 avx512f avx512bw avx512_vnni avx512_bf16 avx_vnni amx_bf16 amx_tile amx_int8 avx512_fp16
"""


def cpu(text: str, tmp_path: Path) -> dict:
    f = tmp_path / "cpuinfo"
    f.write_text(text)
    return cpu_facts(threads=1, cpuinfo=f)


def lat(batch: int, verdict: str | None, base_p50: float = 500.0) -> Latency:
    return Latency(batch, 1, 200, 1, 1, 1, 1, 1, 1, stable=True, verdict=verdict, baseline_p50_us=base_p50)


def test_parse_cpuinfo_reads_the_first_processor():
    model, flags = parse_cpuinfo(EPYC_AVX2)
    assert model == "AMD EPYC" and "avx2" in flags and "avx512f" not in flags


def test_cpu_facts_name_present_and_missing_sets(tmp_path):
    facts = cpu(EPYC_AVX2, tmp_path)
    assert facts["model"] == "AMD EPYC" and facts["flags"] == ["avx2"]
    assert set(facts["missing"]) == set(FLAGS) - {"avx2"}
    assert facts["quantized_engine"] and facts["threads"] == 1
    rich = cpu(SAPPHIRE, tmp_path)
    assert rich["flags"] == ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16",
                             "avx512_fp16"]
    line = cpu_line(facts)
    assert line.startswith("AMD EPYC,") and "has avx2" in line and "lacks avx512f" in line
    assert cpu_tags(facts)["cpu.flags"] == "avx2"


def test_cpu_facts_of_this_machine_agree_with_proc_cpuinfo():
    facts = cpu_facts(threads=2)
    try:
        _, flags = parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:
        assert facts["missing"] is None  # unknown, not "absent"
        return
    assert facts["flags"] == [f for f in FLAGS if f in flags]
    assert facts["torch_capability"]  # e.g. AVX2 or AVX512


def test_without_vnni_a_slower_int8_variant_says_so(tmp_path):
    why = explain("dynamic-int8", [lat(1, SLOWER), lat(256, SAME)], cpu(EPYC_AVX2, tmp_path), params=1_000_000)
    assert why.startswith("slower at batch 1, no measurable difference at batch 256: no VNNI here")
    assert "run on plain AVX2" in why and "too small" not in why  # fp32 takes 500 µs a call: not a small model


def test_with_vnni_the_reason_is_not_the_instruction_set(tmp_path):
    why = explain("dynamic-int8", [lat(360, SLOWER, base_p50=20.0)], cpu(SAPPHIRE, tmp_path), params=650)
    assert "VNNI" not in why
    assert "too small a model for per-call overhead to pay off: fp32 takes 20.0 µs a call at batch 360, 650 " \
           "parameters" in why and "quantizing each input on the fly" in why


def test_half_precision_and_weight_only_reasons(tmp_path):
    epyc = cpu(EPYC_AVX2, tmp_path)
    assert "bf16 has no native CPU kernel here" in explain("bf16", [lat(1, SLOWER)], epyc, 10)
    assert "fp16 has no native CPU kernel here" in explain("fp16", [lat(1, SLOWER)], epyc, 10)
    assert "native" not in explain("bf16", [lat(1, SLOWER)], cpu(SAPPHIRE, tmp_path), 10)
    assert "saves memory, not compute" in explain("int8-weight-only", [lat(1, SAME)], epyc, 10)


def test_a_faster_or_baseline_variant_needs_no_reason(tmp_path):
    epyc = cpu(EPYC_AVX2, tmp_path)
    assert explain("dynamic-int8", [lat(1, FASTER), lat(360, FASTER)], epyc, 10) is None
    assert explain("fp32", [lat(1, None)], epyc, 10) is None


def test_an_unexplained_slowdown_says_nothing_recorded_explains_it(tmp_path):
    why = explain("static-int8", [lat(64, SLOWER)], cpu(SAPPHIRE, tmp_path), params=10_000_000)
    assert why == "slower at batch 64: none of the facts recorded here (instruction sets, model size, per-call time) " \
                  "explains it"


def test_torchao_and_pt2e_reasons_on_cpus_with_and_without_vnni(tmp_path):
    epyc, sapphire = cpu(EPYC_AVX2, tmp_path), cpu(SAPPHIRE, tmp_path)
    for name in ("torchao-int8-dynamic", "torchao-int8-dynamic-compiled", "pt2e-int8-static-compiled"):
        assert "no VNNI here" in explain(name, [lat(1, SLOWER)], epyc, 10_000_000)
        assert "VNNI" not in explain(name, [lat(1, SLOWER)], sapphire, 10_000_000)
    # Eager PT2E is reference arithmetic whatever the CPU: the instruction sets are not its reason.
    for facts in (epyc, sapphire):
        why = explain("pt2e-int8-static", [lat(32, SLOWER)], facts, 10_000_000)
        assert "reference arithmetic" in why and "pt2e-int8-static-compiled fuses them" in why and "VNNI" not in why
    assert "tensor subclass" in explain("torchao-int8-dynamic", [lat(1, SLOWER)], sapphire, 10_000_000)
