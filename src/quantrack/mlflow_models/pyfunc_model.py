"""The MLflow pyfunc that serves any quantrack variant from raw, unscaled feature rows.

Logged with MLflow's "models from code": this file is the model's code (``set_model`` at the
bottom), and the logged model carries only data as artifacts: the variant's own file
(a state_dict read with ``weights_only=True``, or an ONNX graph) and a JSON metadata file
(architecture, method, scaler, class names). Loading never unpickles anything.

The scaler travels inside the model, so callers send the same rows they have (digits: 64
pixel values 0-16) and get the original class labels back, in their type (digits: integers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel

VARIANT_ARTIFACT = "variant"
META_ARTIFACT = "meta"


class QuantrackModel(PythonModel):
    def load_context(self, context) -> None:
        from quantrack.models import build_model

        meta = json.loads(Path(context.artifacts[META_ARTIFACT]).read_text(encoding="utf-8"))
        self.meta = meta
        self.n_features = int(meta["n_features"])
        self.mean = np.asarray(meta["scaler_mean"], dtype=np.float32)
        self.scale = np.asarray(meta["scaler_scale"], dtype=np.float32)
        # Labels in the type they had in the data: integers (digits' 0-9) as int64, names as text.
        if meta.get("label_kind") == "integer":
            self.class_names = np.asarray([int(c) for c in meta["class_names"]], dtype=np.int64)
        else:
            self.class_names = np.asarray(meta["class_names"], dtype=object)
        fill = meta.get("impute_means")
        self.impute_means = None if fill is None else np.asarray(fill, dtype=np.float32)
        image_shape = tuple(meta["image_shape"]) if meta.get("image_shape") else None
        fresh = build_model(meta["model"], self.n_features, len(self.class_names), tuple(meta["hidden"]),
                            image_shape)
        self.variant = load_variant(meta["method"], Path(context.artifacts[VARIANT_ARTIFACT]), fresh,
                                    meta.get("method_config") or {})

    # np.ndarray is the one hint MLflow neither validates nor turns into a signature (ours, logged with
    # the model, stays in force); with no hint at all it prints "Add type hints..." on every load.
    def predict(self, context, model_input: np.ndarray, params=None):
        x = _as_rows(model_input, self.n_features, allow_missing=self.impute_means is not None)
        if self.impute_means is not None:  # trained with --impute mean: fill holes like training did
            holes = ~np.isfinite(x)
            x = np.where(holes, self.impute_means[None, :], x)
        scaled = ((x - self.mean) / self.scale).astype(np.float32)
        return self.class_names[self.variant.predict(scaled)]


def load_variant(method: str, path: Path, fresh, config: dict[str, Any] | None = None):
    """Rebuild a Variant from its saved file through its method's ``load`` (fp32 included), with
    the config it was made with (plain values from meta.json; older packages have none: defaults)."""
    from quantrack.methods import get_method

    m = get_method(method)
    if m.load is None:
        raise mlflow.exceptions.MlflowException(f"method {method!r} cannot reload its saved file")
    return m.restore(path, fresh, m.config.from_dict(config or {}, method=method))


def _as_rows(model_input: Any, n_features: int, allow_missing: bool = False) -> np.ndarray:
    """A 2-D float32 array of raw rows, or a 400-class error that says what was expected."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    if hasattr(model_input, "to_numpy"):  # pandas DataFrame / Series
        model_input = model_input.to_numpy()
    try:
        x = np.asarray(model_input, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise MlflowException(f"expected numeric feature rows: {e}", error_code=INVALID_PARAMETER_VALUE) from None
    if x.ndim == 1 and x.shape[0] == n_features:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_features:
        raise MlflowException(
            f"expected rows of {n_features} features, got an input of shape {tuple(x.shape)}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if not allow_missing and not np.isfinite(x).all():
        raise MlflowException("feature values must be finite numbers (no NaN or infinity)",
                              error_code=INVALID_PARAMETER_VALUE)
    return x


mlflow.models.set_model(QuantrackModel())
