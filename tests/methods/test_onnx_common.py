"""ONNX helpers: export with a dynamic batch axis, the Gemm rewrite, the payload count."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from quantrack.models import build_model
from quantrack.methods import onnx_common as oc
from quantrack.methods.base import float_payload


@pytest.fixture(scope="module")
def mlp():
    import torch

    torch.manual_seed(0)
    return build_model("mlp", 64, 10, (32,)).eval()


def _run(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    return oc.session(model_bytes, threads=1).run(None, {oc.INPUT: x})[0]


def test_export_has_a_dynamic_batch_axis_and_matches_torch(mlp):
    import torch

    model_bytes = oc.export(mlp, np.zeros((2, 64), np.float32))
    dim0 = onnx.load_from_string(model_bytes).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param and not dim0.dim_value
    x = np.random.default_rng(0).standard_normal((7, 64)).astype(np.float32)
    with torch.no_grad():
        expected = mlp(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_run(model_bytes, x), expected, rtol=1e-5, atol=1e-5)


def test_gemm_to_matmul_keeps_outputs_and_removes_every_gemm(mlp):
    before = oc.export(mlp, np.zeros((2, 64), np.float32))
    after = oc.gemm_to_matmul(before)
    ops = [n.op_type for n in onnx.load_from_string(after).graph.node]
    assert "Gemm" not in ops and ops.count("MatMul") == 2 and ops.count("Add") == 2
    x = np.random.default_rng(1).standard_normal((5, 64)).astype(np.float32)
    np.testing.assert_allclose(_run(after, x), _run(before, x), rtol=1e-5, atol=1e-5)
    assert oc.onnx_payload(after) == oc.onnx_payload(before)  # transposed, not grown


@pytest.mark.parametrize("kind", ["logreg", "mlp", "cnn"])
def test_payload_of_float_export_equals_the_torch_formula(kind):
    # The CNN's graph holds int64 reshape shapes: they are not parameters and must not count.
    model = build_model(kind, 64, 10, (16,), (8, 8)).eval()
    assert oc.onnx_payload(oc.export(model, np.zeros((2, 64), np.float32))) == float_payload(model)


def test_payload_skips_scales_and_zero_points_of_dynamic_quantization():
    from quantrack.methods.onnx_int8_dynamic import quantize

    model = build_model("logreg", 64, 10).eval()
    quantized = quantize(oc.export(model, np.zeros((2, 64), np.float32)))
    names = {i.name for i in onnx.load_from_string(quantized).graph.initializer}
    assert any(n.endswith("_scale") for n in names) and any(n.endswith("_zero_point") for n in names)
    assert oc.onnx_payload(quantized) == 64 * 10 * 1 + 10 * 4


@pytest.mark.slow
def test_falls_back_to_the_dynamo_exporter_quietly(mlp, monkeypatch, capfd):
    import torch

    real_export = torch.onnx.export

    def no_torchscript(*args, dynamo=True, **kwargs):
        if not dynamo:
            raise RuntimeError("TorchScript-based exporter removed")
        return real_export(*args, dynamo=dynamo, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", no_torchscript)
    model_bytes = oc.export(mlp, np.zeros((2, 64), np.float32))
    x = np.random.default_rng(2).standard_normal((3, 64)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(_run(model_bytes, x), mlp(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)
    out, err = capfd.readouterr()
    assert out == "" and err == "", "the exporter's notes must not reach the terminal"
