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


class MethodUnavailable(Exception):
    """Raised by a method that cannot run here; the message becomes the report's reason."""


@dataclass
class QuantContext:
    """What a method may use. ``model`` is the trained float model: methods must not mutate it."""

    model: nn.Module
    model_kind: str  # "logreg" | "mlp" | "cnn"
    X_train: np.ndarray  # scaled float32, for calibration or fine-tuning
    y_train: np.ndarray
    lr: float = 0.01
    batch_size: int = 32
    seed: int = 42
    threads: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def float_copy(self) -> nn.Module:
        """A private copy of the float model, in eval mode."""
        return copy.deepcopy(self.model).eval()


class Variant(abc.ABC):
    """A runnable, saveable model produced by a method (fp32 itself is a Variant too)."""

    name: str
    params: int
    payload_bytes: int

    @abc.abstractmethod
    def runner(self, x: np.ndarray) -> Callable[[], Any]:
        """A zero-argument call that runs inference on ``x`` (prepared once, outside the timing).

        Time it inside :meth:`inference_context`, entered once around the whole timing loop.
        """

    def inference_context(self) -> contextlib.AbstractContextManager:
        """State a timed call needs (torch: autograd off); entering it costs ~1.6 µs, so once per loop."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def predict_logits(self, x: np.ndarray) -> np.ndarray:
        """Logits (or scores whose argmax is the class) for scaled float32 rows."""

    @abc.abstractmethod
    def save(self, directory: Path) -> Path:
        """Write the deployable artifact into ``directory``; return its path."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.predict_logits(x)).argmax(axis=1)


class TorchVariant(Variant):
    """A torch module; saved as a state_dict so loading never unpickles code."""

    def __init__(self, name: str, module: nn.Module, params: int, payload_bytes: int,
                 input_dtype: torch.dtype = torch.float32) -> None:
        self.name = name
        self.module = module.eval()
        self.params = params
        self.payload_bytes = payload_bytes
        self.input_dtype = input_dtype

    def _input(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.input_dtype)

    def runner(self, x: np.ndarray) -> Callable[[], Any]:
        import functools

        return functools.partial(self.module, self._input(x))

    def inference_context(self) -> contextlib.AbstractContextManager:
        return torch.inference_mode()

    def predict_logits(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(self._input(x)).float().numpy()

    def save(self, directory: Path) -> Path:
        path = Path(directory) / f"{self.name}.pt"
        torch.save(self.module.state_dict(), path)
        return path


@dataclass(frozen=True)
class Method:
    """A registered quantization method.

    ``apply`` turns the float model into a Variant. ``applies_to`` lists the model kinds
    it supports; for the others the report says it does not apply.
    """

    name: str
    summary: str
    apply: Callable[[QuantContext], Variant]
    # Rebuild a Variant from the file ``save`` wrote, given a fresh float model of the same
    # architecture (untrained): never unpickles code (state_dict + weights_only, or ONNX).
    load: Callable[[Path, nn.Module], Variant] | None = None
    applies_to: tuple[str, ...] = ("logreg", "mlp", "cnn")
    requires: tuple[str, ...] = ()  # importable modules; missing ones make it unavailable

    def unavailable_reason(self, model_kind: str) -> str | None:
        """Why this method cannot run for this model here, or None when it can."""
        if model_kind not in self.applies_to:
            return f"does not apply to --model {model_kind} (supports {', '.join(self.applies_to)})"
        import importlib.util

        for mod in self.requires:
            if importlib.util.find_spec(mod) is None:
                return f"package {mod!r} is not installed"
        return None


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
