"""``quantrack.methods``: one method, one variant, for a user who already knows what they want."""

from __future__ import annotations

from typing import Any

from quantrack.core.method_config import MethodConfig
from quantrack.errors import QuantrackError
from quantrack.methods.base import MethodUnavailable, QuantContext, Variant, private_copy, quiet_warnings


def quantize(model: Any, method: str, calibration: Any = None, *, example: Any = None, threads: int = 1,
             seed: int = 0, config: MethodConfig | None = None) -> Variant:
    """A quantized copy of ``model`` (never modified) as a Variant: ``predict(inputs)`` (class
    indices), ``outputs(inputs)`` (the raw output), ``save(folder)``, ``params``, ``payload_bytes``.

    calibration: inputs (one array, or a tuple for several inputs), ``(X, y)`` for QAT's labels.
    example: a few input rows, needed only without calibration by methods that export the model
    (ONNX); calibration rows serve otherwise. config: the method's knobs, an instance of its
    ``Method.config`` class (e.g. ``QatConfig(epochs=5)``); None: its defaults. Raises
    QuantrackError with the reason when the method cannot handle the model.
    """
    from quantrack.core.evalset import parse, required_inputs
    from quantrack.methods import check_method_names, get_method

    check_method_names([method], allow_all=False)
    m = get_method(method)
    config = m.check_config(config)
    n_required = required_inputs(model)
    calib = None if calibration is None else parse(calibration, n_required=n_required, labels_expected=None,
                                                   what="calibration")
    sample = calib if example is None else parse(example, n_required=n_required, labels_expected=False,
                                                 what="example")
    if sample is None:
        raise QuantrackError(f"{method} needs example rows: pass calibration= or example=")
    ctx = QuantContext(model=private_copy(model), example=sample.take(slice(0, 2)).inputs,
                       calibration=None if calib is None else calib.inputs,
                       labels=None if calib is None else calib.labels, seed=seed, threads=threads, method=method,
                       config=config)
    try:
        with quiet_warnings():
            return m.apply(ctx)
    except MethodUnavailable as e:
        raise QuantrackError(f"{method} is unavailable for this model: {e}") from None
