"""``quantrack.sensitivity``: how much quality each layer costs when quantized alone.

For ``dynamic-int8`` (torch.ao, one Linear at a time) and ``onnx-int8-dynamic`` (ONNX Runtime,
every other node in ``nodes_to_exclude``), each layer is quantized alone, the evaluation set run
through it and its drop against fp32 recorded: one model evaluation per layer. The mixed-int8 and
onnx-mixed-int8 methods use the same table to choose which layers to keep in float.
"""

from __future__ import annotations

from typing import Any

from quantrack.errors import QuantrackError
from quantrack.core.evalset import parse, required_inputs

# the plain method whose layers are searched -> (module, layer class) that builds them
SEARCHABLE = {"dynamic-int8": ("quantrack.methods.mixed_int8", "TorchLayers"),
              "onnx-int8-dynamic": ("quantrack.methods.onnx_mixed_int8", "OnnxLayers")}


def sensitivity(model: Any, method: str, calibration: Any = None, eval_data: Any = None, metric=None, *,
                rows: int | None = None, workers: int = 1, threads: int = 1, eval_batch_size: int = 256,
                seed: int = 0) -> list[dict[str, Any]]:
    """Rows ``{"layer", "params", "drop", "kept_float": False}``, largest drop first; ``layer`` is
    the name ``model.named_modules()`` gives. The returned list also has ``.cost()``: evaluations,
    seconds, rows scored, workers.

    method: "dynamic-int8" or "onnx-int8-dynamic". eval_data: ``(inputs, labels)`` scored by
    accuracy, or inputs with ``metric(outputs, fp32_outputs)``, as in ``compare``. calibration: not
    used by these dynamic methods; accepted so the call reads like ``compare``. rows: score each
    layer on this many evaluation rows drawn at random (the search costs one evaluation per layer).
    workers: layers measured at once, in threads (measure on your machine whether it helps).
    """
    import copy
    import importlib

    from quantrack.evaluate.process_state import preserved_process_state
    from quantrack.methods.scoring import Scorer, subset
    from quantrack.methods._mixed import sensitivity as search
    from quantrack.methods.base import MethodUnavailable, quiet_warnings
    from quantrack.methods.fp32 import fp32_variant

    if method not in SEARCHABLE:
        raise QuantrackError(f"sensitivity supports {', '.join(SEARCHABLE)}, not {method!r}")
    if not (hasattr(model, "forward") and hasattr(model, "named_modules")):
        raise QuantrackError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for label, value in (("workers", workers), ("threads", threads), ("eval_batch_size", eval_batch_size)):
        if not (isinstance(value, int) and value >= 1):
            raise QuantrackError(f"{label} must be a positive integer, got {value!r}")
    if metric is not None and not callable(metric):
        raise QuantrackError("metric must be a callable metric(outputs, fp32_outputs) -> float")
    if eval_data is None:
        raise QuantrackError("eval_data is required: the rows each layer is scored on")
    evaluation = parse(eval_data, n_required=required_inputs(model), labels_expected=True if metric is None else None,
                       what="eval_data")
    part = subset(evaluation, rows, seed)
    module_name, cls = SEARCHABLE[method]
    with preserved_process_state(threads), quiet_warnings():
        float_model = copy.deepcopy(model).eval()
        layer_cls = getattr(importlib.import_module(module_name), cls)
        try:
            layers = layer_cls(float_model, evaluation.take(slice(0, 2)).inputs, threads)
        except MethodUnavailable as e:
            raise QuantrackError(f"{method} cannot quantize this model: {e}") from None
        if not layers.names:
            raise QuantrackError(f"the model has no layer {method} quantizes")
        return search(layers, Scorer(fp32_variant(float_model), part, metric, eval_batch_size), workers=workers)
