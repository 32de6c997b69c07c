"""A model given as an ONNX file: the graph's bytes and what its inputs are, checked once.

``compare("model.onnx", ...)`` measures the graph itself (run by ONNX Runtime) as the baseline
and the ONNX Runtime quantizers applied to it; torch methods do not apply. Loading reads a
protobuf (a graph and tensors): nothing in the file is executed as Python.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    file_bytes: int | None = None  # the .onnx file plus its external data, as the user has them

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
    """Read and check an .onnx file; any problem is one clear QuantrackError.

    External data (``m.onnx.data`` beside ``m.onnx``, what torch 2.13's default exporter writes) is
    read from the model's own folder only, after every tensor's location, offset and length were
    checked, and inlined: every method then starts from one self-contained graph. A batch axis the
    exporter fixed (dynamo without ``dynamic_shapes``) is made dynamic when the graph still computes
    the same rows at another batch size (checked here), else refused.
    """
    from quantrack.methods import onnx_common as oc
    from quantrack.methods.base import MethodUnavailable

    p = Path(path)
    if not p.is_file():
        raise QuantrackError(f"{p} is not a file" if p.exists() else f"{p} does not exist")
    try:
        oc.requirements()
    except MethodUnavailable as e:
        raise QuantrackError(f"an ONNX model needs onnx and onnxruntime: {e}") from None
    import onnx

    raw = p.read_bytes()
    try:
        proto = onnx.load_from_string(raw)  # parses the protobuf only: no external file is opened
    except Exception as e:  # a truncated file, not protobuf
        raise QuantrackError(f"{p} is not a usable ONNX model: {type(e).__name__}: {first_line(e)}") from None
    external = inline_external_data(proto, p)  # raises on a location outside the folder, before reading
    data = proto.SerializeToString() if external else raw
    try:
        onnx.checker.check_model(onnx.load_from_string(data))
        data = free_batch_axis(data)
        sess = oc.session(data, 1)
        params = oc.graph_params(data)
    except QuantrackError:
        raise
    except Exception as e:  # an op ORT lacks, an inconsistent graph
        raise QuantrackError(f"{p} is not a usable ONNX model: {type(e).__name__}: {first_line(e)}") from None
    inputs = tuple(OnnxInput(i.name, i.type, tuple(i.shape)) for i in sess.get_inputs())
    if len(sess.get_outputs()) < 1:
        raise QuantrackError(f"{p} has no outputs")
    return OnnxModel(str(p), data, inputs, params, file_bytes=len(raw) + external)


_MAX_INLINE = 2**31 - 1  # protobuf's limit on one serialized message: larger graphs cannot be inlined


def _all_tensors(graph) -> Iterator[Any]:
    """Every TensorProto of a graph: initializers, sparse ones, Constant/attribute tensors, subgraphs'."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for g in attr.graphs:
                yield from _all_tensors(g)


def tensor_nbytes(tensor) -> int | None:
    """Bytes a tensor's dims and type need in raw form (None: a type with no fixed width, strings)."""
    import onnx
    from onnx import helper

    n = 1
    for d in tensor.dims:
        if d < 0:
            return None
        n *= int(d)
    if tensor.data_type in {getattr(onnx.TensorProto, t, -1) for t in ("INT4", "UINT4", "FLOAT4E2M1")}:
        return (n + 1) // 2
    if tensor.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):
        return None
    try:
        return n * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except Exception:
        return None


def _data_file(location: str, folder: Path, model: Path) -> Path:
    """The external data file ``location`` names, if it lies inside the model's folder; else refused.

    Decided from the path alone (resolve() follows symlinks but opens nothing)."""
    import ntpath
    import os

    if not location or os.path.isabs(location) or ntpath.isabs(location) or ntpath.splitdrive(location)[0]:
        raise QuantrackError(f"{model.name} names external data at {location!r}: only files in its own folder "
                             "are read (a relative path inside it)")
    target = (folder / location).resolve()
    if not target.is_relative_to(folder):
        raise QuantrackError(f"{model.name} names external data at {location!r}, outside its folder {folder}: "
                             "refused (external data is only read from the model's own folder)")
    if not target.is_file():
        raise QuantrackError(f"{model.name} names external data {location!r}, which is not a file in {folder}")
    return target


def inline_external_data(proto, model: Path) -> int:
    """Check every external tensor's location, offset and length against the files, then read them
    into the graph (raw_data) so it is self-contained; return the external bytes read.

    Every check runs before the first data file is opened, and nothing outside the model's folder
    is ever opened: a location that is absolute, climbs out with ``..`` or is a symlink leading out
    is refused, as are an offset/length past the end of the file and dims needing more bytes than
    the tensor's stored length.
    """
    import onnx

    folder = model.resolve().parent
    plan = []  # (tensor, file, offset, length)
    for tensor in _all_tensors(proto.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in tensor.external_data}
        name = tensor.name or "(unnamed)"
        file = _data_file(info.get("location", ""), folder, model)
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else None
        except ValueError:
            raise QuantrackError(f"{model.name}: tensor {name!r} has a non-numeric external offset or length") from None
        size = file.stat().st_size
        if offset < 0 or (length is not None and length < 0):
            raise QuantrackError(f"{model.name}: tensor {name!r} has a negative external offset or length")
        if length is None:
            length = max(size - offset, 0)
        if offset + length > size:
            raise QuantrackError(f"{model.name}: tensor {name!r} declares {length:,} bytes at offset {offset:,} of "
                                 f"{file.name}, which holds {size:,} bytes (truncated or wrong data file)")
        need = tensor_nbytes(tensor)
        if need is None:
            raise QuantrackError(f"{model.name}: tensor {name!r} is stored externally with a type quantrack cannot "
                                 "size (strings or unknown): refused")
        if need != length:
            raise QuantrackError(f"{model.name}: tensor {name!r} has dims {list(tensor.dims)} needing {need:,} bytes "
                                 f"but {length:,} are stored for it in {file.name}: refused")
        plan.append((tensor, file, offset, length))
    total = sum(length for *_, length in plan)
    if total > _MAX_INLINE:
        raise QuantrackError(f"{model.name} has {total:,} bytes of external data: graphs over 2 GB are not "
                             "supported yet")
    handles: dict[Path, Any] = {}
    try:
        for tensor, file, offset, length in plan:
            fh = handles.get(file) or handles.setdefault(file, open(file, "rb"))  # noqa: SIM115
            fh.seek(offset)
            chunk = fh.read(length)
            if len(chunk) != length:  # the file shrank since it was checked
                raise QuantrackError(f"{model.name}: {file.name} ended before tensor {tensor.name!r}'s data")
            tensor.raw_data = chunk
            del tensor.external_data[:]
            tensor.data_location = onnx.TensorProto.DEFAULT
    finally:
        for fh in handles.values():
            fh.close()
    return total


def free_batch_axis(model_bytes: bytes) -> bytes:
    """The graph with a dynamic first axis when the exporter fixed it (torch.onnx.export's dynamo
    default without ``dynamic_shapes`` writes batch 2); unchanged when it is already dynamic.

    Kept only if the freed graph runs at another batch size and gives the same rows as the original
    on random inputs; a graph whose reshapes bake the batch in is refused with how to re-export it.
    """
    import numpy as np
    import onnx

    from quantrack.methods import onnx_common as oc

    m = onnx.load_from_string(model_bytes)
    inits = {i.name for i in m.graph.initializer}
    ins = [i for i in m.graph.input if i.name not in inits]
    dims = [i.type.tensor_type.shape.dim for i in (*ins, *m.graph.output)]
    firsts = {d[0].dim_value if d[0].HasField("dim_value") else None for d in dims if len(d)}
    if not ins or None in firsts or len(firsts) != 1 or any(len(d) == 0 for d in dims):
        return model_bytes  # dynamic already (or scalars): as given
    fixed = firsts.pop()
    for d in dims:
        d[0].Clear()
        d[0].dim_param = "batch"
    del m.graph.value_info[:]  # shapes inferred for the fixed batch would contradict the free one
    freed = m.SerializeToString()
    rng = np.random.default_rng(0)

    def rows(n: int) -> dict[str, np.ndarray]:
        out = {}
        for i in ins:
            shape = [n, *(d.dim_value or 1 for d in i.type.tensor_type.shape.dim[1:])]
            np_type = onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
            out[i.name] = (rng.normal(size=shape).astype(np_type) if np.issubdtype(np_type, np.floating)
                           else np.ones(shape, dtype=np_type))
        return out

    feed = rows(fixed + 1)
    try:
        want = oc.session(model_bytes, 1).run(None, {k: v[:fixed] for k, v in feed.items()})[0]
        got = oc.session(freed, 1).run(None, feed)[0]
        ok = got.shape[0] == fixed + 1 and np.allclose(got[:fixed], want, rtol=1e-4, atol=1e-5)
    except Exception:
        ok = False
    if not ok:
        raise QuantrackError(f"the graph's batch axis is fixed at {fixed} and its ops depend on it; re-export with "
                             "a dynamic batch (torch.onnx.export(..., dynamic_shapes=...) or dynamic_axes=...)")
    return freed
