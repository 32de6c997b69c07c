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

