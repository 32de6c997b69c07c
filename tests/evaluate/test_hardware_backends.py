"""'Why not faster' for the OpenVINO methods stays true on CPUs with and without VNNI/AMX."""

from __future__ import annotations

from test_hardware import EPYC_AVX2, SAPPHIRE, cpu, lat

from quantrack.evaluate.hardware import explain
from quantrack.evaluate.timing import SAME, SLOWER


def test_openvino_int8_blames_missing_vnni_only_where_it_is_missing(tmp_path):
    assert "no VNNI here" in explain("openvino-int8", [lat(1, SLOWER)], cpu(EPYC_AVX2, tmp_path), 10)
    assert "VNNI" not in explain("openvino-int8", [lat(1, SLOWER)], cpu(SAPPHIRE, tmp_path), 10)


def test_openvino_default_precision_is_named_by_the_cpu(tmp_path):
    assert "f32 on this CPU" in explain("openvino", [lat(1, SAME)], cpu(EPYC_AVX2, tmp_path), 10)
    assert "runs bf16 here" in explain("openvino", [lat(1, SAME)], cpu(SAPPHIRE, tmp_path), 10)


def test_weight_compression_saves_memory_not_compute_everywhere(tmp_path):
    for text in (EPYC_AVX2, SAPPHIRE):
        for method in ("openvino-int8-weights", "openvino-int4-weights"):
            assert "saves memory, not compute" in explain(method, [lat(1, SAME)], cpu(text, tmp_path), 10)
    assert "another runtime" in explain("openvino-fp32", [lat(1, SAME)], cpu(SAPPHIRE, tmp_path), 10)
