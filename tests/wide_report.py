"""A report with a measured variant for every method: the longest names, every verdict, one not run.

For the tests of widths (terminal table, report.html): the champion is the longest name.
"""

from __future__ import annotations

import copy


def every_method_report(report):
    """``report``: the synthetic Report (conftest), changed in place and returned."""
    from quantrack.core.results import FASTER, SAME
    from quantrack.methods import METHOD_NAMES

    template = report.variant("dynamic-int8")
    variants = [report.variant("fp32")]
    for i, name in enumerate(METHOD_NAMES):
        v = copy.deepcopy(template)
        v.name = name
        v.file_bytes = 100_000 + i
        for lat in v.latency:
            lat.verdict = (FASTER, SAME, lat.verdict)[i % 3]
        variants.append(v)
    variants[-1].available, variants[-1].reason = False, "needs a calibration set " * 4
    report.variants = variants
    report.champion = "onnx-int8-dynamic"
    report.champion_reason = ("smallest file within 1 point of fp32: 100,008 B (0.74x of fp32), "
                              "accuracy 95.83% vs 96.11%")
    return report
