"""What ``quantrack search`` on the command line searches: a user's ONNX file with their rows (as
``quantrack compare`` reads them), or a model trained here first (as ``quantrack run`` trains it).

Trained here: the stratified train/validation/test split of ``run``, the checkpoint chosen on the
validation rows; calibration is the training rows, the search's evaluation rows are the test rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SearchInputs:
    model: Any  # a torch module or an .onnx path
    calibration: Any
    eval_data: tuple[np.ndarray, np.ndarray]
    model_kind: str | None
    name: str  # for the output folder's name
    notes: dict[str, Any]


def from_onnx_file(model_path: str, dataset: str, *, target: str | None, class_names: list[str] | None,
                   calibration: str | None, n_calibration: int, seed: int) -> SearchInputs:
    from pathlib import Path

    from quantrack.compare_onnx import calibration_rows, labels_as_indices
    from quantrack.data.files import load_file
    from quantrack.errors import QuantrackError
    from quantrack.evaluate.onnx_model import is_onnx_path, open_onnx

    if not is_onnx_path(model_path):
        raise QuantrackError(f"quantrack search takes an .onnx file, got {model_path}")
    graph = open_onnx(model_path)  # a bad file fails here, before the data is read
    if graph.n_inputs != 1:
        raise QuantrackError(f"{Path(model_path).name} takes {graph.n_inputs} inputs; a CSV/Parquet file feeds "
                             "one (use quantrack.search() from Python for several)")
    table = load_file(dataset, target=target)
    y = labels_as_indices(table.labels, class_names, dataset)
    calib, source = calibration_rows(table.features, calibration, target, n_calibration, seed)
    return SearchInputs(graph, calib, (table.features, y), None, Path(model_path).stem,
                        {"onnx_model": str(Path(model_path).resolve()), "dataset": str(Path(dataset).resolve()),
                         "calibration_source": source})


def from_training(config, progress=None) -> SearchInputs:
    """Train ``config.model`` on ``config.dataset`` exactly as ``quantrack run`` does (no MLflow)."""
    import torch

    from quantrack.models import build_model
    from quantrack.pipeline import load_data
    from quantrack.training import train

    data = load_data(config)
    torch.manual_seed(config.seed)
    model = build_model(config.model, data.n_features, data.n_classes, config.hidden, data.image_shape)
    on_val = config.checkpoint_on == "val" and len(data.X_val)
    X_check, y_check = (data.X_val, data.y_val) if on_val else (data.X_test, data.y_test)
    if progress is not None:
        progress.stage(f"training {config.model} on {data.name}")
    result = train(model, data.X_train, data.y_train, X_check, y_check, epochs=config.epochs, lr=config.lr,
                   batch_size=config.batch_size, seed=config.seed)
    return SearchInputs(model, (data.X_train, data.y_train), (data.X_test, data.y_test), config.model,
                        f"{data.name}-{config.model}",
                        {"dataset": data.name, "model": config.model, "epochs": config.epochs,
                         "best_epoch": result.best_epoch, "train_seconds": round(result.seconds, 3)})
