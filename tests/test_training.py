"""The fast training path keeps torch.optim.SGD's maths and the best-by-test-loss rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from quantrack.models import build_model
from quantrack.training import train


def _data(rows: int = 150, features: int = 8, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    y = np.minimum(y, classes - 1)
    return X[:100], y[:100], X[100:], y[100:]


def _reference(model: nn.Module, X, y, X_test, y_test, *, epochs, lr, batch_size, seed):
    """The textbook loop on the same batches: torch.optim.SGD, zero_grad, backward, step."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    xtr, ytr = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    states, test_losses = [], []
    for _ in range(epochs):
        order = torch.randperm(len(xtr), generator=generator)
        for lo in range(0, len(xtr), batch_size):
            idx = order[lo:lo + batch_size]
            opt.zero_grad()
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
        with torch.no_grad():
            test_losses.append(float(loss_fn(model(torch.from_numpy(X_test)), torch.from_numpy(y_test))))
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    return states, test_losses


@pytest.mark.parametrize("kind,batch_size", [("logreg", 32), ("logreg", 7), ("mlp", 16)])
def test_fast_path_matches_torch_optim_sgd(kind, batch_size):
    X, y, Xt, yt = _data()
    torch.manual_seed(3)
    model = build_model(kind, 8, 3, hidden=(16,))
    reference = build_model(kind, 8, 3, hidden=(16,))
    reference.load_state_dict(model.state_dict())
    epochs = 6
    result = train(model, X, y, Xt, yt, epochs=epochs, lr=0.05, batch_size=batch_size, seed=11)
    states, test_losses = _reference(reference, X, y, Xt, yt, epochs=epochs, lr=0.05, batch_size=batch_size, seed=11)
    assert result.test_losses == pytest.approx(test_losses, rel=1e-6)
    best = states[result.best_epoch - 1]
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, best[name], rtol=0, atol=0)  # identical, not close
    # and the weights actually moved
    assert not torch.equal(states[-1][next(iter(best))], states[0][next(iter(best))]) or epochs == 1


def test_best_epoch_is_the_lowest_test_loss_and_model_holds_it():
    X, y, Xt, yt = _data()
    # A learning rate this large makes the test loss go up and down, so the best epoch is not the last.
    torch.manual_seed(0)
    model = build_model("logreg", 8, 3)
    epochs = 12
    snapshots = {}

    def on_epoch(epoch, train_loss, test_loss):
        snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    result = train(model, X, y, Xt, yt, epochs=epochs, lr=5.0, batch_size=10, seed=1, on_epoch=on_epoch)
    expected = int(np.argmin(result.test_losses)) + 1
    assert result.best_epoch == expected
    assert result.best_test_loss == min(result.test_losses)
    assert result.best_epoch != epochs, "the data should make the last epoch not the best"
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshots[expected][name])
    with torch.no_grad():
        loss = float(nn.CrossEntropyLoss()(model(torch.from_numpy(Xt)), torch.from_numpy(yt)))
    assert loss == pytest.approx(result.best_test_loss, rel=1e-6)


def test_on_epoch_is_called_once_per_epoch_with_the_recorded_losses():
    X, y, Xt, yt = _data()
    calls = []
    result = train(build_model("logreg", 8, 3), X, y, Xt, yt, epochs=5, lr=0.1, batch_size=32, seed=0,
                   on_epoch=lambda e, tr, te: calls.append((e, tr, te)))
    assert [c[0] for c in calls] == [1, 2, 3, 4, 5]
    assert [c[1] for c in calls] == result.train_losses
    assert [c[2] for c in calls] == result.test_losses


def test_train_loss_is_the_row_weighted_mean_of_batch_losses():
    X, y, Xt, yt = _data()
    torch.manual_seed(5)
    model = build_model("logreg", 8, 3)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    # lr tiny enough that the weights barely move: the epoch's mean equals the loss at the start.
    result = train(model, X, y, Xt, yt, epochs=1, lr=1e-12, batch_size=30, seed=0)  # batches 30,30,30,10
    model.load_state_dict(start)
    with torch.no_grad():
        full = float(nn.CrossEntropyLoss()(model(torch.from_numpy(X)), torch.from_numpy(y)))
    assert result.train_losses[0] == pytest.approx(full, rel=1e-5)


def test_the_engine_shortcut_is_checked_and_the_public_path_gives_the_same_weights(monkeypatch):
    import quantrack.training as training

    assert training._pick_grads() is training._engine_grads  # torch 2.13 takes the direct call
    X, y, Xt, yt = _data()
    weights = []
    for grads in (training._engine_grads, training._public_grads):
        monkeypatch.setattr(training, "_grads", grads)
        torch.manual_seed(0)
        model = build_model("mlp", 8, 3, (16,))
        train(model, X, y, Xt, yt, epochs=3, lr=0.1, batch_size=16, seed=0)
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_torch_whose_engine_refuses_the_call_falls_back_to_the_public_function(monkeypatch):
    import quantrack.training as training

    def broken(*args, **kwargs):
        raise TypeError("run_backward() takes 6 positional arguments but 7 were given")

    monkeypatch.setattr(training, "_engine_grads", broken)
    assert training._pick_grads() is training._public_grads
