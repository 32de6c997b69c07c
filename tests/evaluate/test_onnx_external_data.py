"""ONNX files with external data (``m.onnx`` + ``m.onnx.data``, what torch 2.13's default
``torch.onnx.export`` writes): read from the model's own folder only, checked before any byte is
read, inlined so every ONNX and OpenVINO method starts from one self-contained graph."""

from __future__ import annotations

import builtins
import io
import os
from pathlib import Path

import numpy as np
import pytest

from quantrack.errors import QuantrackError


def _graph_with_external_data(folder: Path, *, rows: int = 6, cols: int = 3, name: str = "m.onnx") -> Path:
    """x[n, rows] @ W[rows, cols] + b, W stored in ``name``.data beside the graph."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(rows, cols)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.normal(size=(cols,)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", rows])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", cols])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, folder / name, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=f"{name}.data", size_threshold=0)
    return folder / name


def _relocate(path: Path, location: str, length: int | None = None) -> None:
    """Point every external tensor of the graph at ``location`` (and optionally declare ``length``)."""
    import onnx

    m = onnx.load(path, load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
            if e.key == "length" and length is not None:
                e.value = str(length)
    path.write_bytes(m.SerializeToString())


class _OpenSpy:
    """Records every path opened through builtins.open / io.open / os.open."""

    def __init__(self, monkeypatch) -> None:
        self.paths: list[str] = []
        real_open, real_os_open = builtins.open, os.open

        def spy_open(file, *a, **k):
            self.paths.append(str(file))
            return real_open(file, *a, **k)

        def spy_os_open(file, *a, **k):
            self.paths.append(str(file))
            return real_os_open(file, *a, **k)

        monkeypatch.setattr(builtins, "open", spy_open)
        monkeypatch.setattr(io, "open", spy_open)
        monkeypatch.setattr(os, "open", spy_os_open)

    def touched(self, path: Path) -> bool:
        target = str(path.resolve())
        return any(target in str(Path(p).resolve()) for p in self.paths if isinstance(p, (str, os.PathLike)))


def test_external_data_is_inlined_and_counted(tmp_path):
    import onnxruntime as ort

    from quantrack.evaluate.onnx_model import open_onnx

    path = _graph_with_external_data(tmp_path / "model")
    graph = open_onnx(path)
    assert graph.file_bytes == path.stat().st_size + (tmp_path / "model" / "m.onnx.data").stat().st_size
    x = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = ort.InferenceSession(graph.model_bytes, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_external_data_outside_the_folder_is_refused_without_opening_it(tmp_path, monkeypatch, how):
    from quantrack.evaluate.onnx_model import open_onnx

    path = _graph_with_external_data(tmp_path / "model")
    secret = tmp_path / "sibling" / "secret.bin"
    secret.parent.mkdir()
    secret.write_bytes((tmp_path / "model" / "m.onnx.data").read_bytes())  # would even parse as the weights
    if how == "dotdot":
        _relocate(path, "../sibling/secret.bin")
    elif how == "absolute":
        _relocate(path, str(secret))
    else:
        (tmp_path / "model" / "link.data").symlink_to(secret)
        _relocate(path, "link.data")
    spy = _OpenSpy(monkeypatch)
    with pytest.raises(QuantrackError, match="external data") as e:
        open_onnx(path)
    assert "\n" not in str(e.value)
    assert not spy.touched(secret), spy.paths


def test_the_cli_refuses_it_in_one_line_with_exit_2(tmp_path, run_cli, sqlite_uri, capsys):
    import pandas as pd

    path = _graph_with_external_data(tmp_path / "model")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "w.bin").write_bytes(b"\0" * 1024)
    _relocate(path, "../elsewhere/w.bin")
    rows = pd.DataFrame(np.zeros((4, 6)), columns=[f"c{i}" for i in range(6)]).assign(y=[0, 1, 2, 0])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    code = run_cli("compare", str(path), "--dataset", str(tmp_path / "rows.csv"), "--tracking-uri", sqlite_uri,
                   "--out", str(tmp_path / "out"))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "outside its folder" in err, err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_data_file_shorter_than_declared_is_refused(tmp_path):
    from quantrack.evaluate.onnx_model import open_onnx

    path = _graph_with_external_data(tmp_path / "model")
    data = tmp_path / "model" / "m.onnx.data"
    data.write_bytes(data.read_bytes()[:40])  # W alone needs 6 x 3 x 4 = 72 bytes
    with pytest.raises(QuantrackError, match="truncated or wrong data file"):
        open_onnx(path)


def test_dims_needing_more_bytes_than_stored_are_refused(tmp_path):
    import onnx

    from quantrack.evaluate.onnx_model import open_onnx

    path = _graph_with_external_data(tmp_path / "model")
    m = onnx.load(path, load_external_data=False)
    m.graph.initializer[0].dims[:] = [600000, 3]  # W now claims 7.2 MB of a 84-byte file
    path.write_bytes(m.SerializeToString())
    with pytest.raises(QuantrackError, match="refused"):
        open_onnx(path)


def test_a_fixed_batch_axis_is_freed_when_the_graph_allows(tmp_path):
    import onnx

    from quantrack.evaluate.onnx_model import open_onnx

    path = _graph_with_external_data(tmp_path / "model")
    m = onnx.load(path, load_external_data=False)
    for v in (*m.graph.input, *m.graph.output):
        v.type.tensor_type.shape.dim[0].dim_value = 2  # what the dynamo exporter writes without dynamic_shapes
    path.write_bytes(m.SerializeToString())
    graph = open_onnx(path)
    assert graph.inputs[0].shape[0] == "batch"
