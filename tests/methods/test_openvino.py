"""The openvino-* methods: listed unavailable with the install hint when the extra is missing; the
precision the CPU plugin ran at and its thread count are reported; the IR folder is what runs."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

OPENVINO_METHODS = ("openvino-fp32", "openvino", "openvino-int8", "openvino-int8-weights", "openvino-int4-weights")


@pytest.mark.parametrize("name", OPENVINO_METHODS)
def test_without_the_extra_the_method_is_unavailable_with_the_install_hint(monkeypatch, name):
    from quantrack.methods import get_method

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda mod, *a: None if mod.split(".")[0] in ("openvino", "nncf") else real(mod, *a))
    reason = get_method(name).unavailable_reason("mlp")
    assert reason == "package 'openvino' is not installed (pip install 'quantrack[openvino]')"


def test_fp32_ir_runs_at_f32_with_the_threads_asked_and_saves_xml_and_bin(tmp_path):
    import torch

    from quantrack.methods import get_method
    from quantrack.methods.base import QuantContext, artifact_bytes
    from quantrack.models import build_model

    torch.manual_seed(0)
    model = build_model("mlp", 16, 3, (32,)).eval()
    x = np.random.default_rng(0).normal(size=(9, 16)).astype(np.float32)
    variant = get_method("openvino-fp32").apply(QuantContext(model=model, example=(x[:2],), threads=2))
    assert variant.precision == "float32"
    assert "inference precision float32, 2 thread(s)" in variant.runtime
    with torch.no_grad():
        np.testing.assert_allclose(variant.outputs(x), model(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)
    folder = variant.save(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["model.bin", "model.xml"]
    assert artifact_bytes(folder) == sum(p.stat().st_size for p in folder.iterdir())
    assert (folder / "model.bin").stat().st_size >= variant.payload_bytes  # fp32 weights, not fp16


def test_default_precision_is_what_the_plugin_reports():
    import openvino as ov
    import torch

    from quantrack.methods import get_method
    from quantrack.methods.base import QuantContext
    from quantrack.models import build_model

    model = build_model("mlp", 16, 3, (32,)).eval()
    x = np.zeros((2, 16), np.float32)
    variant = get_method("openvino").apply(QuantContext(model=model, example=(x,)))
    default = ov.Core().compile_model(variant.model, "CPU").get_property("INFERENCE_PRECISION_HINT")
    assert variant.precision in str(default)
    del torch
