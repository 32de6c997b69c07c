"""The models quantrack trains: the assignment's logistic regression, an MLP and a small CNN."""

from __future__ import annotations

import math

import torch
from torch import nn

from quantrack.errors import QuantrackError


class LogisticRegression(nn.Module):
    """The assignment's model: one linear layer on raw features; softmax lives in the loss."""

    def __init__(self, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class MLP(nn.Module):
    """Fully connected ReLU network; the case where int8 kernels actually pay off."""

    def __init__(self, n_features: int, n_classes: int, hidden: tuple[int, ...] = (1024, 1024)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class CNN(nn.Module):
    """Two 3x3 convolutions for small square grey images given as flat rows (digits: 8x8)."""

    def __init__(self, n_features: int, n_classes: int, channels: tuple[int, int] = (16, 32)) -> None:
        super().__init__()
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise QuantrackError(f"--model cnn needs square images; {n_features} features are not a square number")
        self.side = side
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(c2 * (side // 2) ** 2, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, 1, self.side, self.side)
        return self.classifier(torch.flatten(self.features(x), 1))


def build_model(kind: str, n_features: int, n_classes: int, hidden: tuple[int, ...] = (1024, 1024),
                image_shape: tuple[int, int] | None = None) -> nn.Module:
    """A fresh model of the given kind; the same call rebuilds it for loading a state_dict."""
    try:
        return _build(kind, n_features, n_classes, hidden, image_shape)
    except RuntimeError as e:
        if "allocate" not in str(e):
            raise
        raise QuantrackError(f"the {kind} model does not fit in memory ({str(e).splitlines()[0][:120]}); "
                             "use smaller --hidden sizes") from None


def _build(kind: str, n_features: int, n_classes: int, hidden: tuple[int, ...],
           image_shape: tuple[int, int] | None) -> nn.Module:
    if kind == "logreg":
        return LogisticRegression(n_features, n_classes)
    if kind == "mlp":
        return MLP(n_features, n_classes, tuple(hidden))
    if kind == "cnn":
        if image_shape is None or image_shape[0] != image_shape[1]:
            raise QuantrackError("--model cnn applies only to square image data (such as digits); this dataset is not images")
        return CNN(n_features, n_classes)
    raise QuantrackError(f"unknown model {kind!r}")


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
