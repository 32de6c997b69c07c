"""The served LM: saved as data only, re-created equal to the measured variant, rows checked with a 400-class error."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from quantrack.errors import QuantrackError
from quantrack.lm import served


@pytest.fixture(scope="module")
def saved(tiny, tmp_path_factory):
    model, tok = tiny
    folder = served.save_data(model, tok, "int8-weight-only", {"quantize_tied_lm_head": False},
                              tmp_path_factory.mktemp("served") / "lm", default_max_new_tokens=5)
    return folder


def test_the_package_holds_data_only(saved):
    files = sorted(p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file())
    assert files == ["lm.json", "model/config.json", "model/generation_config.json", "model/model.safetensors",
                     "model/tokenizer.json", "model/tokenizer_config.json"]
    meta = json.loads((saved / "lm.json").read_text())
    assert meta["method"] == "int8-weight-only" and meta["method_config"] == {"quantize_tied_lm_head": False}
    assert meta["default_max_new_tokens"] == 5 and meta["max_new_tokens_limit"] == served.MAX_NEW_TOKENS


def test_the_recreated_variant_is_the_measured_one(tiny, saved):
    """Weight-only methods are deterministic: re-applying the method to the saved fp32 weights gives the same model."""
    import torch

    from quantrack.lm.methods import TorchaoInt8WeightOnly, get_lm_method

    model, tok = tiny
    measured = get_lm_method("int8-weight-only").build(model, TorchaoInt8WeightOnly())
    recreated, tokenizer, _ = served.load_data(saved)
    x = torch.tensor([tok("The quick brown fox jumps")["input_ids"]])
    with torch.inference_mode():
        assert torch.equal(recreated(input_ids=x).logits, measured(input_ids=x).logits)
    assert tokenizer("The quick")["input_ids"] == tok("The quick")["input_ids"]
    from quantrack.lm.cost import weight_bytes

    assert weight_bytes(recreated) == weight_bytes(measured) < weight_bytes(model)  # quantized, not fp32


def test_predict_is_greedy_and_answers_each_row(tiny, saved):
    import torch

    model, tok = tiny
    lm = served.ServedLM(*served.load_data(saved))
    rows = pd.DataFrame([{"prompt": "The quick", "max_new_tokens": 6}, {"prompt": "Pack my box", "max_new_tokens": 3}])
    first = lm.predict(rows)
    assert first == lm.predict(rows) and len(first) == 2  # deterministic
    x = torch.tensor([tok("The quick")["input_ids"]])
    direct = lm.model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=6, do_sample=False,
                               pad_token_id=0)
    assert first[0] == tok.decode(direct[0, x.shape[1]:], skip_special_tokens=True)
    assert lm.predict({"prompt": "The quick"}) == lm.predict({"prompt": ["The quick"], "max_new_tokens": [5]})
    import numpy as np

    assert lm.predict({"prompt": np.array(["The quick"]), "max_new_tokens": np.array([5])}) == \
        lm.predict({"prompt": "The quick", "max_new_tokens": 5})


def test_a_prompt_beyond_the_model_positions_is_refused(saved):
    lm = served.ServedLM(*served.load_data(saved))
    with pytest.raises(Exception, match="exceed the model's 512 positions"):
        lm.predict({"prompt": "fox " * 400, "max_new_tokens": 200})


@pytest.mark.parametrize("rows,match", [
    ([], "no rows"),
    ([{"prompt": "a"}] * (served.MAX_ROWS + 1), f"at most {served.MAX_ROWS}"),
    ({"prompt": ""}, "prompt must be a non-empty text"),
    ({"prompt": "   "}, "prompt must be a non-empty text"),
    ({"prompt": 3}, "prompt must be a non-empty text"),
    ({"prompt": "a", "max_new_tokens": 0}, "between 1 and 256, got 0"),
    ({"prompt": "a", "max_new_tokens": -1}, "between 1 and 256, got -1"),
    ({"prompt": "a", "max_new_tokens": 257}, "between 1 and 256, got 257"),
    ({"prompt": "a", "max_new_tokens": 2.5}, "must be an integer, got 2.5"),
    ({"prompt": "a", "max_new_tokens": "8"}, "must be an integer, got '8'"),
    ({"prompt": "a", "max_new_tokens": float("inf")}, "must be an integer, got inf"),
    ({"prompt": "a", "max_new_tokens": 1e30}, "between 1 and 256, got 1e\\+30"),
    ({"prompt": "a", "max_new_tokens": True}, "must be an integer, got True"),
    ({"prompt": "a", "temperature": 1.0}, "unknown field 'temperature'"),
    ({"prompt": "a" * (served.MAX_PROMPT_CHARS + 1)}, "characters; at most"),
    ("just text", "expected rows of"),
])
def test_bad_rows_are_a_400_class_error(rows, match):
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match=match) as e:
        served.parse_rows(rows, 8)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_rows_take_the_default_and_integral_floats():
    assert served.parse_rows(pd.DataFrame([{"prompt": "a"}]), 7) == [("a", 7)]
    assert served.parse_rows([{"prompt": "a", "max_new_tokens": 3.0}, {"prompt": "b", "max_new_tokens": None}], 7) == \
        [("a", 3), ("b", 7)]


def test_loading_runs_no_code_from_the_package(saved, tmp_path):
    import shutil

    bad = tmp_path / "lm"
    shutil.copytree(saved, bad)
    cfg = json.loads((bad / "model" / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "evil.Model"}
    (bad / "model" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(QuantrackError, match="auto_map"):
        served.load_data(bad)
    shutil.rmtree(bad)
    shutil.copytree(saved, bad)
    (bad / "model" / "model.safetensors").unlink()
    (bad / "model" / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(QuantrackError, match="no .safetensors weights"):
        served.load_data(bad)


def test_an_unknown_method_or_format_is_one_clear_error(saved, tmp_path):
    import shutil

    bad = tmp_path / "lm"
    shutil.copytree(saved, bad)
    meta = json.loads((bad / "lm.json").read_text())
    (bad / "lm.json").write_text(json.dumps({**meta, "method": "nope"}))
    with pytest.raises(QuantrackError, match="unknown LM method 'nope'"):
        served.load_data(bad)
    (bad / "lm.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(QuantrackError, match="unknown format 99"):
        served.load_data(bad)
    with pytest.raises(QuantrackError, match="not a quantrack LM package"):
        served.load_data(tmp_path)


def test_a_tied_output_projection_is_saved_once_and_tied_again(saved, tiny):
    import torch
    from safetensors import safe_open

    with safe_open(str(saved / "model" / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "model.embed_tokens.weight" in keys and "lm_head.weight" not in keys
    recreated, _, _ = served.load_data(saved)
    assert recreated.lm_head.weight is recreated.model.embed_tokens.weight
    assert torch.equal(recreated.model.embed_tokens.weight, tiny[0].model.embed_tokens.weight)


def test_a_model_read_from_gguf_is_saved_as_plain_float_weights(tiny, tmp_path):
    """transformers' save_pretrained refuses a GGUF-read model ("quantized with gguf and is not serializable")."""
    import copy

    import torch

    model, tok = tiny
    gguf_like = copy.deepcopy(model)
    gguf_like.config.quantization_config = {"quant_method": "gguf"}
    gguf_like.hf_quantizer = object()  # what makes save_pretrained raise
    folder = served.save_data(gguf_like, tok, "bf16", {}, tmp_path / "lm", default_max_new_tokens=4)
    assert "quantization_config" not in json.loads((folder / "model" / "config.json").read_text())
    recreated, _, meta = served.load_data(folder)
    assert meta["method"] == "bf16" and recreated.dtype == torch.bfloat16
    x = torch.tensor([tok("The quick brown fox")["input_ids"]])
    with torch.inference_mode():
        assert torch.equal(recreated(input_ids=x).logits, copy.deepcopy(model).to(torch.bfloat16)(input_ids=x).logits)


def test_an_openvino_champion_is_recreated_and_generates_like_the_measured_one(tiny, tmp_path):
    """The OpenVINO weight-compressed variants are served the same way: NNCF's data-free int8 is deterministic."""
    import torch

    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    from quantrack.lm.methods import get_lm_method

    model, tok = tiny
    method = get_lm_method("openvino-int8-weights")
    measured = method.build(model, method.config())
    folder = served.save_data(model, tok, "openvino-int8-weights", {}, tmp_path / "lm", default_max_new_tokens=4)
    lm = served.ServedLM(*served.load_data(folder))
    x = torch.tensor([tok("The quick")["input_ids"]])
    direct = measured.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=4, do_sample=False,
                               pad_token_id=0)
    assert lm.predict({"prompt": "The quick", "max_new_tokens": 4}) == \
        [tok.decode(direct[0, x.shape[1]:], skip_special_tokens=True)]
