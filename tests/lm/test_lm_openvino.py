"""The OpenVINO LM variant on the tiny Llama: the fp32 IR computes what torch computes (prefill, a decode
step through its own KV cache, greedy generation), and its configs refuse bad knobs."""

import importlib.util

import numpy as np
import pytest
import torch

from quantrack.errors import QuantrackError
from quantrack.lm.cost import decode_runner, weight_bytes
from quantrack.lm.methods import OpenVinoInt4Weights, OpenVinoInt8Weights, get_lm_method

needs_openvino = pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="pip install openvino")


@pytest.fixture(scope="module")
def ov_fp32(built):
    return built("openvino-fp32")[0]  # built once per session, shared with test_methods' contract


@needs_openvino
def test_fp32_ir_matches_torch_at_prefill_and_through_its_kv_cache(tiny, ov_fp32):
    model, _ = tiny
    x = (torch.arange(24)[None] * 7) % 300
    with torch.inference_mode():
        ref = model(input_ids=x).logits
        out = ov_fp32(input_ids=x[:, :20], use_cache=True)
        assert torch.allclose(out.logits, ref[:, :20], atol=1e-4)
        cache = out.past_key_values
        assert cache.get_seq_length() == 20
        step = ov_fp32(input_ids=x[:, 20:], use_cache=True, cache=cache)  # 4 more tokens after 20 cached
        assert torch.allclose(step.logits, ref[:, 20:], atol=1e-4) and cache.get_seq_length() == 24
        cache.crop(-4)
        again = ov_fp32(input_ids=x[:, 20:21], use_cache=True, cache=cache)
        assert torch.allclose(again.logits[:, 0], ref[:, 20], atol=1e-4) and cache.get_seq_length() == 21
    decode_runner(ov_fp32, x[0].numpy())()  # what the cost module times: one step, cropped back


@needs_openvino
def test_fp32_ir_generates_what_transformers_generates(tiny, ov_fp32):
    model, _ = tiny
    x = (torch.arange(12)[None] * 5) % 300
    kwargs = dict(attention_mask=torch.ones_like(x), max_new_tokens=6, min_new_tokens=6, do_sample=False,
                  pad_token_id=0)
    with torch.inference_mode():
        assert torch.equal(ov_fp32.generate(input_ids=x, **kwargs), model.generate(input_ids=x, **kwargs))
    assert ov_fp32.runtime.startswith("OpenVINO") and "float32" in ov_fp32.runtime
    assert weight_bytes(ov_fp32) == len(ov_fp32.ir.weights) and weight_bytes(ov_fp32) == pytest.approx(
        weight_bytes(model), rel=0.01)  # the IR holds the same fp32 weights, the tied embedding once
    with pytest.raises(ValueError, match="unpadded"):
        ov_fp32(input_ids=x, attention_mask=torch.zeros_like(x))


def test_openvino_configs_refuse_bad_knobs():
    assert OpenVinoInt4Weights().group_size == 64 and 576 % 64 == 0  # SmolLM2-135M's width
    with pytest.raises(QuantrackError, match="mode"):
        OpenVinoInt4Weights(mode="int4")
    with pytest.raises(QuantrackError, match="ratio"):
        OpenVinoInt4Weights(ratio=0)
    with pytest.raises(QuantrackError, match="group_size"):
        OpenVinoInt4Weights(group_size=0)
    with pytest.raises(QuantrackError, match="mode"):
        OpenVinoInt8Weights(mode="int4_asym")


def test_without_openvino_the_methods_say_why(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in ("openvino", "nncf") else real(n, *a))
    for name in ("openvino-fp32", "openvino-int8-weights", "openvino-int4-weights"):
        assert "'openvino' is not installed" in get_lm_method(name).unavailable_reason()


def test_cache_crop_keeps_or_removes_tokens():
    from quantrack.lm.openvino import OpenVinoCache

    cache = OpenVinoCache([np.zeros((1, 2, 10, 4), np.float32) for _ in range(4)])
    cache.crop(-3)
    assert cache.get_seq_length() == 7
    cache.crop(5)
    assert all(a.shape[2] == 5 for a in cache.arrays)
