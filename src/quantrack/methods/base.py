"""What a quantization method is, and what it produces: a Variant that can run and be saved."""

from __future__ import annotations

import abc
import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from quantrack.core.budget import Budget
from quantrack.core.evalset import EvalSet, Inputs
from quantrack.core.method_config import MethodConfig, NoConfig


class MethodUnavailable(Exception):
    """Raised by a method that cannot run here; the message becomes the report's reason."""


ONNX_KIND = "onnx"  # the model_kind of a model given as an ONNX file


def as_inputs(x: np.ndarray | Inputs) -> Inputs:
    """One array, or a tuple/list of arrays (one per input of the model's forward)."""
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def rows_of(inputs: Inputs, index) -> Inputs:
    """The same rows (a slice or an index array) of every input."""
    return tuple(a[index] for a in inputs)


@dataclass
class SearchContext:
    """What the mixed-precision methods search with, given by ``compare``: the rows every variant is
    judged on (which they must not choose on: they choose on the calibration rows that are not among
    them), the metric, and where to leave their per-layer tables (``sink``: plain method -> table,
    read by compare into the report). Without it (``quantrack.quantize``) they score on the
    calibration rows."""

    evaluation: EvalSet
    metric: Callable[[np.ndarray, np.ndarray], float] | None = None
    eval_batch_size: int = 256
    sensitivity_rows: int | None = None  # score each layer alone on this many rows (None: all)
    sink: dict[str, Any] = field(default_factory=dict)


@dataclass
class QuantContext:
    """What a method may use. ``model`` is the float model: methods must not mutate it.

    ``method``: the registered name of the method being applied (the registry key; variants are
    named by it). ``calibration``: model inputs for calibration or fine-tuning (None when the user
    gave none: methods that need it are then unavailable). ``labels``: integer classes of those
    rows, for QAT only. ``example``: a few real input rows, to export or trace the model.
    ``onnx_model``: the bytes of an ONNX graph the user gave instead of a torch module (``model``
    is then None): the ONNX methods start from it instead of exporting.
    """

    model: nn.Module | None
    example: Inputs
    calibration: Inputs | None = None
    labels: np.ndarray | None = None
    model_kind: str | None = None  # "logreg" | "mlp" | "cnn" for quantrack's own models
    seed: int = 42
    threads: int = 1
    onnx_model: bytes | None = None
    method: str = ""
    # The method's own knobs (an instance of its Method.config class); None: the method's defaults.
    config: MethodConfig | None = None
    # The champion budget compare decides with; the mixed methods search to fit it (None: Budget()'s default).
    budget: Budget | None = None
    search: SearchContext | None = None  # compare's evaluation set (kept out of the choice), metric and sensitivity sink

    def config_or(self, default: MethodConfig) -> MethodConfig:
        """The config the caller passed, else ``default`` (the method's own defaults)."""
        return self.config if self.config is not None else default

    def float_copy(self) -> nn.Module:
        """A private copy of the float model, in eval mode."""
        return copy.deepcopy(self.model).eval()

    def require_calibration(self, method: str | None = None) -> Inputs:
        if self.calibration is None:
            raise MethodUnavailable(f"{method or self.method} needs calibration data (pass calibration=...)")
        return self.calibration


class Variant(abc.ABC):
    """A runnable, saveable model produced by a method (fp32 itself is a Variant too).

    Inputs are one array or a tuple of arrays (one per model input, rows on axis 0).
    """

    name: str
    params: int
    payload_bytes: int

    @abc.abstractmethod
    def runner(self, x: np.ndarray | Inputs) -> Callable[[], Any]:
        """A zero-argument call that runs inference on ``x`` (prepared once, outside the timing).

        Time it inside :meth:`inference_context`, entered once around the whole timing loop.
        """

    def inference_context(self) -> contextlib.AbstractContextManager:
        """State a timed call needs (torch: autograd off); entering it costs ~1.6 µs, so once per loop."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def outputs(self, x: np.ndarray | Inputs) -> np.ndarray:
        """The model's output as float32 numpy (a classifier's logits), rows on axis 0."""

    @abc.abstractmethod
    def save(self, directory: Path) -> Path:
        """Write the deployable artifact into ``directory``; return its path."""

    def predict_logits(self, x: np.ndarray | Inputs) -> np.ndarray:
        return self.outputs(x)

    def predict(self, x: np.ndarray | Inputs) -> np.ndarray:
        """Class indices: the argmax of the outputs."""
        return np.asarray(self.outputs(x)).argmax(axis=1)


def output_array(out: Any) -> np.ndarray:
    """A forward's result as float32 numpy: a tensor; a tuple/list or a transformers ModelOutput
    (a dict) counts by its first entry, as ``model(...)[0]`` does."""
    if isinstance(out, dict):
        out = next(iter(out.values()))
    elif isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the model returned {type(out).__name__}, not a tensor")
    return out.detach().float().numpy()


class TorchVariant(Variant):
    """A torch module; saved as a state_dict so loading never unpickles code."""

    def __init__(self, name: str, module: nn.Module, params: int, payload_bytes: int,
                 input_dtype: torch.dtype = torch.float32) -> None:
        self.name = name
        self.module = module.eval()
        self.params = params
        self.payload_bytes = payload_bytes
        self.input_dtype = input_dtype  # floating inputs are cast to it; token ids stay integers

    def _tensors(self, x: np.ndarray | Inputs) -> list[torch.Tensor]:
        out = []
        for a in as_inputs(x):
            t = torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else torch.as_tensor(a)
            out.append(t.to(self.input_dtype) if t.is_floating_point() else t)
        return out

    def runner(self, x: np.ndarray | Inputs) -> Callable[[], Any]:
        import functools

        return functools.partial(self.module, *self._tensors(x))

    def inference_context(self) -> contextlib.AbstractContextManager:
        return torch.inference_mode()

    def outputs(self, x: np.ndarray | Inputs) -> np.ndarray:
        with torch.inference_mode():
            return output_array(self.module(*self._tensors(x)))

    def save(self, directory: Path) -> Path:
        path = Path(directory) / f"{self.name}.pt"
        torch.save(self.module.state_dict(), path)
        return path


@dataclass(frozen=True)
class Method:
    """A registered quantization method.

    ``apply`` turns the float model into a Variant named ``ctx.method``. ``applies_to`` lists the
    model kinds it supports; for the others the report says it does not apply. ``name`` is not
    written in the method's module: :func:`quantrack.methods.get_method` fills it from the
    registry key, the one place a method's name is spelled.
    """

    summary: str
    apply: Callable[[QuantContext], Variant]
    # Rebuild a Variant from the file ``save`` wrote, given a fresh float model of the same
    # architecture (untrained), the method's name and the config the file was made with: never
    # unpickles code (state_dict + weights_only, or ONNX). Call it through :meth:`restore`.
    load: Callable[[Path, nn.Module, str, MethodConfig], Variant] | None = None
    applies_to: tuple[str, ...] = ("logreg", "mlp", "cnn")
    requires: tuple[str, ...] = ()  # importable modules; missing ones make it unavailable
    onnx_graph: bool = False  # also applies to a given ONNX graph (QuantContext.onnx_model)
    config: type[MethodConfig] = NoConfig  # its knobs: a frozen dataclass, every field with a default and a why
    extra: str | None = None  # the optional extra that installs ``requires`` (named in the unavailable reason)
    name: str = ""  # the registry key, filled by get_method

    def check_config(self, config: MethodConfig | None) -> MethodConfig:
        """``config`` when it is this method's config class, its defaults for None; else one clear error."""
        from quantrack.errors import QuantrackError

        if config is None:
            return self.config()
        if not isinstance(config, self.config):
            raise QuantrackError(f"{self.name} takes a {self.config.__module__}.{self.config.__qualname__}, got "
                                 f"{type(config).__name__}")
        return config

    def restore(self, path: Path, fresh: nn.Module, config: MethodConfig | None = None) -> Variant:
        """The Variant saved at ``path``, rebuilt on ``fresh`` (``config``: what it was made with)."""
        if self.load is None:
            raise ValueError(f"{self.name} cannot load a saved file")
        return self.load(Path(path), fresh, self.name, self.check_config(config))

    def unavailable_reason(self, model_kind: str | None = None) -> str | None:
        """Why this method cannot run for this model here, or None when it can (a model that
        quantrack did not build has no kind: the method is tried, and says why if it fails)."""
        if model_kind == ONNX_KIND:
            if not self.onnx_graph:
                return "does not apply to an ONNX model (it works on a torch module)"
        elif model_kind is not None and model_kind not in self.applies_to:
            return f"does not apply to --model {model_kind} (supports {', '.join(self.applies_to)})"
        import importlib.util

        for mod in self.requires:
            if importlib.util.find_spec(mod) is None:
                hint = f" (pip install 'quantrack[{self.extra}]')" if self.extra else ""
                return f"package {mod!r} is not installed{hint}"
        return None


def private_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy to quantize: the user's module keeps its weights, mode and requires_grad."""
    from quantrack.errors import QuantrackError, first_line

    try:
        return copy.deepcopy(model).eval()
    except Exception as e:
        raise QuantrackError(f"cannot copy the model ({type(e).__name__}: {first_line(e)}); quantrack quantizes "
                             "a copy so that yours stays as it is") from None


@contextlib.contextmanager
def quiet_warnings():
    """Warnings off for the block: torch.ao and friends warn about deprecation on every call."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def quiet_libraries(logger_names: tuple[str, ...], *, swallow_stdout: bool = False):
    """Hold these libraries' loggers at ERROR and ignore warnings for the block, so their
    notices (failed optional kernels, export chatter) stay off the user's terminal."""
    import io
    import logging
    import warnings

    loggers = [logging.getLogger(n) for n in logger_names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            warnings.simplefilter("ignore")
            if swallow_stdout:
                stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def load_state_dict_file(path: Path) -> dict[str, Any]:
    """torch.load restricted to tensors and plain containers: no arbitrary unpickling."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized packed params trip a TypedStorage notice
        return torch.load(path, map_location="cpu", weights_only=True)


def artifact_bytes(path: Path) -> int:
    """Bytes on disk of a saved artifact: one file, or every file of a folder (an OpenVINO IR's .xml + .bin)."""
    path = Path(path)
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def remove_artifact(path: Path) -> None:
    import shutil

    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def payload_bytes(tensors: dict[str, tuple[int, float]]) -> int:
    """The assignment's size formula: elements x bytes per element, summed.

    ``tensors`` maps a name to (element count, bytes per element); quantization
    metadata (scales, zero points) is not counted, as in the report (640 x 1 + 10 x 4 = 680).
    """
    return int(round(sum(n * b for n, b in tensors.values())))


def float_payload(model: nn.Module, bytes_per_element: float = 4) -> int:
    return payload_bytes({n: (p.numel(), bytes_per_element) for n, p in model.named_parameters()})


def weight_payload(model: nn.Module, weight_bytes: float, kinds: tuple[type, ...] = (nn.Linear,)) -> int:
    """Payload when the weights of ``kinds`` layers are stored at ``weight_bytes`` each and
    every other parameter (biases, untouched layers) stays float32."""
    quantized = {id(m.weight) for m in model.modules() if isinstance(m, kinds)}
    return payload_bytes({n: (p.numel(), weight_bytes if id(p) in quantized else 4)
                          for n, p in model.named_parameters()})
