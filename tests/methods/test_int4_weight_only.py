"""int4 weight-only: the grouping follows the layer widths; values really are 4-bit."""

from __future__ import annotations

import torch

from quantrack.models import build_model
from quantrack.methods import int4_weight_only as int4
from quantrack.methods._torchao import quantize_copy


def test_groups_of_32_when_every_width_allows_it_else_one_scale_per_row():
    from torchao.quantization.granularity import PerAxis, PerGroup

    group = int4.Int4Config().group_size
    assert group == 32
    assert int4.granularity(build_model("mlp", 64, 10, (1024,)), group) == PerGroup(32)
    assert int4.granularity(build_model("logreg", 4, 3), group) == PerAxis(0)  # iris: 4 features
    assert int4.granularity(build_model("mlp", 64, 10, (1024,)), 16) == PerGroup(16)  # the knob reaches torchao


def test_quantized_weights_take_at_most_16_levels_per_group():
    torch.manual_seed(0)
    model = build_model("logreg", 64, 10).eval()
    quantized = quantize_copy(model, int4.torchao_config(model, 32))
    qdata = quantized.linear.weight.qdata
    assert qdata.dtype == torch.int8 and int(qdata.min()) >= -8 and int(qdata.max()) <= 7
    assert len(torch.unique(qdata[:, :32])) <= 16
