import json

import pytest

from quantrack.errors import QuantrackError
from quantrack.lm.loading import load_causal_lm, resolve


def test_resolve_refuses_in_one_line(tmp_path):
    with pytest.raises(QuantrackError, match="does not exist"):
        resolve(tmp_path / "missing")
    with pytest.raises(QuantrackError, match="holds no model"):
        resolve(tmp_path)
    (tmp_path / "a.gguf").write_bytes(b"x")
    (tmp_path / "b.gguf").write_bytes(b"x")
    with pytest.raises(QuantrackError, match="choose one with --gguf-file"):
        resolve(tmp_path)
    with pytest.raises(QuantrackError, match="file name inside"):
        resolve(tmp_path, "../a.gguf")
    assert resolve(tmp_path, "a.gguf").gguf_file == "a.gguf"


def test_code_in_a_config_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "x.Model"}}))
    with pytest.raises(QuantrackError, match="auto_map"):
        resolve(tmp_path)


def test_pickled_weights_are_not_loaded(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(QuantrackError, match="no .safetensors"):
        resolve(tmp_path)


def test_a_gguf_transformers_cannot_read(tmp_path, tiny_folder):
    import shutil

    folder = tmp_path / "bad"
    folder.mkdir()
    for f in tiny_folder.iterdir():
        if f.name.startswith("tokenizer"):
            shutil.copy(f, folder / f.name)
    (folder / "model.gguf").write_bytes(b"GGUF not really")
    with pytest.raises(QuantrackError, match="model.gguf"):
        load_causal_lm(folder)


def test_loads_a_safetensors_folder(tiny_folder, tiny):
    model, tokenizer, source = load_causal_lm(tiny_folder)
    assert source.gguf_file is None and type(model).__name__ == "LlamaForCausalLM"
    assert tokenizer("hello")["input_ids"] == tiny[1]("hello")["input_ids"]


def test_what_the_libraries_print_while_loading_stays_off_the_terminal(tiny_folder, capsys, monkeypatch):
    """Reading a GGUF file, transformers draws tqdm's dequantizing bar, and its quantizers import torchao,
    which logs the kernels it could not load: none of it reaches the user's stderr."""
    import logging

    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM

    real = AutoModelForCausalLM.from_pretrained

    def chatty(*args, **kwargs):
        for _ in tqdm(range(3), desc="Converting and de-quantizing GGUF tensors..."):
            pass
        logging.getLogger("torchao").warning("Failed to load _C_mxfp8.so")
        return real(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", chatty)
    model, _, _ = load_causal_lm(tiny_folder)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert capsys.readouterr().err == ""
