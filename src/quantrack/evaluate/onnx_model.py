"""A model given as an ONNX file: the graph's bytes and what its inputs are, checked once.

``compare("model.onnx", ...)`` measures the graph itself (run by ONNX Runtime) as the baseline
and the ONNX Runtime quantizers applied to it; torch methods do not apply. Loading reads a
protobuf (a graph and tensors): nothing in the file is executed as Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantrack.errors import QuantrackError, first_line


@dataclass(frozen=True)
class OnnxInput:
    name: str
    type: str  # ONNX Runtime's spelling: "tensor(float)", "tensor(int64)"
    shape: tuple[int | str | None, ...]  # a str or None: a dynamic axis


@dataclass(frozen=True)
class OnnxModel:
    """An ONNX graph the user gave instead of a torch module."""

    path: str
    model_bytes: bytes
    inputs: tuple[OnnxInput, ...]
    params: int

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    def summary(self) -> dict[str, Any]:
        return {"class": f"ONNX graph {Path(self.path).name}", "params": self.params,
                "inputs": [f"{i.name}: {i.type}[{', '.join(str(d) for d in i.shape)}]" for i in self.inputs]}

    def check_width(self, inputs: tuple[Any, ...], what: str) -> None:
        """Each input's per-row shape against the graph's fixed axes: a mismatch is one clear line
        here rather than an ONNX Runtime error from deep inside a method."""
        if len(inputs) != self.n_inputs:
            raise QuantrackError(f"{Path(self.path).name} takes {self.n_inputs} input(s) "
                                 f"({', '.join(i.name for i in self.inputs)}); {what} has {len(inputs)}")
        for meta, arr in zip(self.inputs, inputs, strict=True):
            want = meta.shape[1:]
            got = tuple(arr.shape[1:])
            if len(want) != len(got) or any(isinstance(w, int) and w != g for w, g in zip(want, got, strict=True)):
                raise QuantrackError(f"{Path(self.path).name} input {meta.name!r} expects rows of shape "
                                     f"({', '.join(str(d) for d in want)}), but {what} has rows of shape "
                                     f"({', '.join(map(str, got))})")


def is_onnx_path(model: Any) -> bool:
    return isinstance(model, (str, Path)) and str(model).lower().endswith(".onnx")


def open_onnx(path: str | Path) -> OnnxModel:
    """Read and check an .onnx file; any problem is one clear QuantrackError."""
    from quantrack.methods import onnx_common as oc
    from quantrack.methods.base import MethodUnavailable

    p = Path(path)
    if not p.is_file():
        raise QuantrackError(f"{p} is not a file" if p.exists() else f"{p} does not exist")
    try:
        oc.requirements()
    except MethodUnavailable as e:
        raise QuantrackError(f"an ONNX model needs onnx and onnxruntime: {e}") from None
    data = p.read_bytes()
    try:
        import onnx

        onnx.checker.check_model(onnx.load_from_string(data))
        sess = oc.session(data, 1)
        params = oc.graph_params(data)
    except Exception as e:  # a truncated file, not protobuf, an op ORT lacks
        raise QuantrackError(f"{p} is not a usable ONNX model: {type(e).__name__}: {first_line(e)}") from None
    inputs = tuple(OnnxInput(i.name, i.type, tuple(i.shape)) for i in sess.get_inputs())
    if len(sess.get_outputs()) < 1:
        raise QuantrackError(f"{p} has no outputs")
    return OnnxModel(str(p), data, inputs, params)
