"""quantrack: train, track, quantize every way, measure honestly, pick the variant to ship.

Heavy libraries (torch, mlflow, onnxruntime) are imported only by the modules that
need them, so ``quantrack --help`` stays fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
