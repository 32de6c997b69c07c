"""One contract over every registered LM method: on the tiny Llama it returns a new model that scores
and generates, leaves fp32 untouched, holds fewer weight bytes than fp32, or says why it cannot run."""

import dataclasses

import numpy as np
import pytest
import torch

from quantrack.core.method_config import MethodConfig
from quantrack.errors import QuantrackError
from quantrack.lm.cost import weight_bytes
from quantrack.lm.methods import LM_METHOD_NAMES, HQQ, LMMethodUnavailable, TorchaoInt4WeightOnly, chosen, get_lm_method


@pytest.mark.parametrize("name", LM_METHOD_NAMES)
def test_every_method_builds_a_model_that_generates_or_says_why(tiny, built, name):
    model, _ = tiny
    method = get_lm_method(name)
    if method.unavailable_reason():
        pytest.skip(method.unavailable_reason())
    variant, untouched = built(name)
    assert untouched  # building never changes the user's model
    if isinstance(variant, LMMethodUnavailable):
        assert str(variant) and name in ("gptq", "awq")  # the ones known not to run on a CPU here
        return
    assert variant is not model
    x = torch.arange(20)[None] % 300
    with torch.inference_mode():
        logits = variant(input_ids=x).logits
        out = variant.generate(input_ids=x, max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=0)
    assert logits.shape == (1, 20, model.config.vocab_size) and torch.isfinite(logits.float()).all()
    assert out.shape == (1, 23)
    if name == "openvino-fp32":  # the same fp32 weights in another runtime, the tied embedding once
        assert weight_bytes(variant) == pytest.approx(weight_bytes(model), rel=0.01)
    else:
        assert weight_bytes(variant) < weight_bytes(model)


def test_every_config_knob_has_a_reason():
    for name in ("fp32", *LM_METHOD_NAMES):
        cfg = get_lm_method(name).config
        assert issubclass(cfg, MethodConfig) and dataclasses.is_dataclass(cfg)
        for knob, _default, why in cfg.knobs():
            assert why, f"{name}.{knob} has no why"
    with pytest.raises(QuantrackError, match="group_size"):
        TorchaoInt4WeightOnly(group_size=100)
    with pytest.raises(QuantrackError, match="nbits"):
        HQQ(nbits=5)


def test_tied_output_projection_stays_float_by_default(tiny):
    model, _ = tiny
    int8 = get_lm_method("int8-weight-only")
    kept = int8.build(model, int8.config())
    both = int8.build(model, int8.config(quantize_tied_lm_head=True))
    assert type(kept.lm_head.weight) is torch.nn.Parameter and type(both.lm_head.weight) is not torch.nn.Parameter
    assert weight_bytes(both) > weight_bytes(kept)  # a quantized copy beside the float embedding


def test_weight_bytes_counts_shared_storage_once(tiny):
    model, _ = tiny
    params = {id(p): p for p in model.parameters()}  # tied weights are one Parameter
    assert weight_bytes(model) == sum(p.numel() * 4 for p in params.values())


def test_chosen_orders_and_refuses():
    assert chosen("all")[0] == "fp32" and chosen("all")[1:] == list(LM_METHOD_NAMES)
    assert chosen(["dynamic-int8", "bf16"]) == ["fp32", "bf16", "dynamic-int8"]
    with pytest.raises(QuantrackError, match="unknown LM method"):
        chosen("int3")
    assert np.all([get_lm_method(n).summary for n in LM_METHOD_NAMES])
