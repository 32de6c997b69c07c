"""An LM champion as an MLflow pyfunc: data only, loaded by a quantrack module, with a signature.

The classifier variants are "models from code" (pyfunc_model.py). An LM is saved as MLflow's own
flavors are: ``loader_module`` names a module of the *installed* quantrack
(``quantrack.lm.served``, passed in by the caller: this package sits below lm/ and never imports
it), and the model folder holds data only (safetensors weights, JSON configs and tokenizer, the
method and its config as JSON). Loading imports that module and calls its ``_load_pyfunc``: no
file of the model folder is executed and nothing is unpickled.

The signature makes MLflow check each request before the model sees it: ``prompt`` (string,
required) and ``max_new_tokens`` (optional). ``max_new_tokens`` is declared *Any* on purpose, and
checked by the model (whole number, 1 to ``quantrack.lm.served.MAX_NEW_TOKENS``), because both typed
choices fail (measured, MLflow 3.17.2): as a *long*, the scoring server casts a JSON number with
``astype`` before any check, in every request form, so 2.5 arrives as 2, 1e30 as -2**63 and "7" as 7,
and a batch mixing rows with and without it is refused; as a *double*, MLflow refuses the integers
a Python caller passes ("Can not safely convert int64 to float64"). A request the model refuses (an
empty prompt, a negative, fractional, textual or too large ``max_new_tokens``) raises
:func:`invalid_input`, which the scoring server answers with 400 and the message (scoring_app.py
cuts it to one line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROMPT = "prompt"
MAX_NEW_TOKENS = "max_new_tokens"
EXAMPLE = {PROMPT: "The capital of France is", MAX_NEW_TOKENS: 8}


def invalid_input(message: str) -> Exception:
    """The error a served model raises for a request it refuses: HTTP 400 with ``message``."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def signature():
    """prompt: string (required), max_new_tokens: optional, checked by the model (see above); one string per row."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    return ModelSignature(inputs=Schema([ColSpec("string", PROMPT), ColSpec(AnyType(), MAX_NEW_TOKENS, required=False)]),
                          outputs=Schema([ColSpec("string")]))


def pip_requirements(packages: list[str]) -> list[str]:
    """The classifier's pins (mlflow, torch, numpy, quantrack) plus transformers' and the method's ``packages``."""
    from importlib.metadata import PackageNotFoundError, version

    from quantrack.mlflow_models.registration import pip_requirements as base

    reqs = base([])
    for dist in ("transformers", "tokenizers", "safetensors", *packages):
        try:
            reqs.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return reqs


def save_pyfunc(data_dir: str | Path, dest: str | Path, loader_module: str, packages: list[str]) -> Path:
    """Save the pyfunc at ``dest``: ``data_dir`` copied in as its data, ``loader_module`` to load it."""
    import mlflow
    import pandas as pd

    from quantrack.core.environment import env_override
    from quantrack.mlflow_models.connection import NO_PROGRESS_BARS

    with env_override(NO_PROGRESS_BARS):  # it copies the weights in: no tqdm bar on the user's stderr
        mlflow.pyfunc.save_model(path=str(dest), loader_module=loader_module, data_path=str(data_dir),
                                 signature=signature(), input_example=pd.DataFrame([EXAMPLE]),
                                 pip_requirements=pip_requirements(packages))
    return Path(dest)

