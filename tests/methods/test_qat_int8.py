"""Quantization-aware fine-tuning actually trains, and leaves the float model alone."""

from __future__ import annotations

import numpy as np
import torch

from quantrack.models import build_model
from quantrack.methods import _eager
from quantrack.methods.qat_int8 import fine_tune


def test_fine_tune_lowers_the_loss_of_a_fake_quantized_model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)  # learnable from one feature
    torch.manual_seed(0)
    model = build_model("logreg", 8, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        initial = float(torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y)))
    prepared = _eager.prepare(model, qat=True)
    losses = fine_tune(prepared, X, y, epochs=4, lr=0.1, batch_size=32, seed=0)
    assert len(losses) == 4 and losses[-1] < losses[0] and losses[-1] < 0.8 * initial
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
