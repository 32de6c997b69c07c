"""torch.ao eager plumbing shared by static-int8 and qat-int8."""

from __future__ import annotations

import sys

import pytest

from quantrack.models import build_model
from quantrack.methods import _eager
from quantrack.methods.base import MethodUnavailable


def test_fusable_pairs_finds_layer_relu_neighbours_only():
    assert _eager.fusable_pairs(build_model("logreg", 64, 10)) == []
    assert _eager.fusable_pairs(build_model("mlp", 64, 10, (32, 16))) == [["layers.0", "layers.1"],
                                                                          ["layers.2", "layers.3"]]
    assert _eager.fusable_pairs(build_model("cnn", 64, 10, image_shape=(8, 8))) == [["features.0", "features.1"],
                                                                                    ["features.2", "features.3"]]


def test_converted_model_has_int8_weights_and_the_payload_counts_them():
    import numpy as np
    import torch

    model = build_model("cnn", 64, 10, image_shape=(8, 8)).eval()
    prepared = _eager.prepare(model, qat=False)
    _eager.calibrate(prepared, np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    quantized = _eager.convert(prepared)
    assert quantized.model.features[0].weight().dtype == torch.qint8  # fused ConvReLU2d, int8 weight
    assert quantized.model.classifier.weight().dtype == torch.qint8
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, _eager.QUANTIZED_KINDS))
    biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, _eager.QUANTIZED_KINDS))
    assert _eager.payload(model) == weights + 4 * biases


def test_missing_torch_ao_quantization_is_reported_as_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.ao.quantization", None)  # as if a future PyTorch removed it
    with pytest.raises(MethodUnavailable, match="torch.ao.quantization is not available"):
        _eager.ao()


def _unavailable_reason(model) -> str:
    import numpy as np

    model.eval()
    X = np.random.default_rng(0).standard_normal((32, 8)).astype(np.float32)
    prepared = _eager.prepare(model, qat=False)
    _eager.calibrate(prepared, X)
    with pytest.raises(MethodUnavailable) as e:
        _eager.variant("static-int8", model, _eager.convert(prepared), X)
    return str(e.value)


def test_a_module_without_an_int8_version_is_named_as_a_module_not_a_functional_op():
    import torch
    from torch import nn

    class WithBatchNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.norm, self.out = nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 3)

        def forward(self, x):
            return self.out(torch.relu(self.norm(self.fc(x))))

    reason = _unavailable_reason(WithBatchNorm())
    assert "the BatchNorm1d module norm has no int8 version in eager mode" in reason
    assert "functional ops such as a residual" not in reason  # what it said before: BatchNorm1d is a module
    assert "pt2e-int8-static quantizes the exported graph" in reason  # what would make it work


def test_a_functional_op_is_named_with_the_forward_it_is_in():
    from torch import nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.out(self.fc(x) + x)

    reason = _unavailable_reason(Residual())
    assert "a functional op in Residual.forward got int8 tensors (aten::add" in reason
    assert "pt2e-int8-static" in reason
