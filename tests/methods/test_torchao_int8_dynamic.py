"""torchao-int8-dynamic and its compiled twin: the recipe's knobs, no process-wide Inductor settings
left behind, and (slow) one compile per shape class that later batch sizes reuse."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from quantrack.errors import QuantrackError
from quantrack.methods import get_method
from quantrack.methods._pt2e import should_reduce_range
from quantrack.methods.base import QuantContext
from quantrack.methods.torchao_int8_dynamic import TorchaoInt8DynamicConfig
from quantrack.methods.torchao_int8_dynamic_compiled import TorchaoInt8DynamicCompiledConfig



def _apply(name: str, ctx: QuantContext):
    """apply() as compare calls it: the context names the method."""
    ctx.method = name
    return get_method(name).apply(ctx)

def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 10)).eval()


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).standard_normal((96, 32)).astype(np.float32)


def _inductor_settings() -> dict:
    import torch._inductor.config as c

    return {k: getattr(c, k) for k in ("freezing", "coordinate_descent_tuning", "force_fuse_int_mm_with_mul",
                                       "fx_graph_cache")}


def test_defaults_follow_torchao_and_leave_inductor_settings_alone(x, tmp_path):
    before = _inductor_settings()
    variant = _apply("torchao-int8-dynamic", QuantContext(model=_model(), example=(x[:2],)))
    assert _inductor_settings() == before  # set_inductor_config=False: quantize_ changes nothing process-wide
    assert variant.runtime == "eager" and variant.compile_seconds is None
    assert variant.recipe == {"symmetric_activations": True, "reduce_range": should_reduce_range()}
    assert variant.outputs(x).shape == (len(x), 10)
    reloaded = get_method("torchao-int8-dynamic").restore(variant.save(tmp_path), _model())
    np.testing.assert_array_equal(reloaded.outputs(x), variant.outputs(x))


def test_knobs_reach_torchao_and_are_validated(x):
    config = TorchaoInt8DynamicConfig(symmetric_activations=False, reduce_range=False)
    variant = _apply("torchao-int8-dynamic", QuantContext(model=_model(), example=(x[:2],), config=config))
    assert variant.recipe == {"symmetric_activations": False, "reduce_range": False}
    assert TorchaoInt8DynamicCompiledConfig().compile is True and TorchaoInt8DynamicConfig().compile is False
    assert all(why for _, _, why in TorchaoInt8DynamicConfig.knobs())
    with pytest.raises(QuantrackError, match="symmetric_activations"):
        TorchaoInt8DynamicConfig(symmetric_activations="yes")


@pytest.mark.slow
def test_compiled_is_warm_does_not_recompile_and_restores_freezing(x, tmp_path):
    import torch._dynamo.config as dynamo_config
    import torch._inductor.config as inductor_config

    before = _inductor_settings()
    eager = _apply("torchao-int8-dynamic", QuantContext(model=_model(), example=(x[:2],)))
    compiled = _apply("torchao-int8-dynamic-compiled", QuantContext(model=_model(), example=(x[:2],)))
    assert compiled.runtime.startswith("inductor") and compiled.compile_seconds > 0
    assert _inductor_settings() == before and inductor_config.freezing is before["freezing"]
    with dynamo_config.patch(error_on_recompile=True):  # compiled at batch 2 and 1 in apply: nothing new here
        shapes = [tuple(compiled.runner(x[:bs])().shape) for bs in (1, 5, 64)]
        whole = compiled.outputs(x)
    assert shapes == [(1, 10), (5, 10), (64, 10)]
    np.testing.assert_allclose(whole, eager.outputs(x), atol=0.05)
    reloaded = get_method("torchao-int8-dynamic-compiled").restore(compiled.save(tmp_path), _model())
    np.testing.assert_allclose(reloaded.outputs(x), whole, atol=1e-5)


def test_all_leaves_the_compiled_twins_out_unless_named():
    from quantrack.config import RunConfig
    from quantrack.methods import ALL_METHODS, NAMED_ONLY, expand

    assert NAMED_ONLY == {"torchao-int8-dynamic-compiled", "pt2e-int8-static-compiled"}
    assert not NAMED_ONLY & set(expand(["all"])) and expand(["all"]) == list(ALL_METHODS)
    assert "torchao-int8-dynamic" in ALL_METHODS and "pt2e-int8-static" in ALL_METHODS
    assert expand(["all", "pt2e-int8-static-compiled"])[-1] != "pt2e-int8-static-compiled"  # registry order
    assert "pt2e-int8-static-compiled" in expand(["all", "pt2e-int8-static-compiled"])
    assert RunConfig(methods=("all",)).method_list == list(ALL_METHODS)
