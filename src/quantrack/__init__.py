"""quantrack: train, track, quantize every way, measure honestly, pick the variant to ship.

Heavy libraries (torch, mlflow, onnxruntime) are imported only by the modules that
need them, so ``quantrack --help`` stays fast.
"""

import os

__version__ = "0.1.0"

# MLflow sends usage telemetry to its vendor's servers unless told not to. quantrack talks
# to the tracking server you name and to nothing else; set MLFLOW_DISABLE_TELEMETRY=false
# yourself to opt back in.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

__all__ = ["__version__"]
