"""The LM champion as a served model: saved as data only, re-created by quantrack's own code.

How it is saved (:func:`save_data`): a folder with the *fp32* model as transformers writes it
(``config.json``, ``generation_config.json``, ``model.safetensors``), its tokenizer files (JSON) and
``lm.json``: the method's name and its typed config (``MethodConfig.to_dict``), and the serving
defaults. How it is re-created (:func:`load_data`): :func:`quantrack.lm.loading.load_causal_lm` on
that folder (safetensors only, ``local_files_only``, no ``trust_remote_code``, ``auto_map`` refused,
offline), then the method is applied again with that config.

Why re-apply rather than store the quantized weights: every LM method here is weight-only or
rounds weights deterministically from the fp32 weights (bf16, torchao int8/int4, HQQ, the
assignment's ``quantize_dynamic``), so the re-created variant *is* the measured one (a test checks
its perplexity against the report's, to the last digit). Saving the quantized weights instead has
no clean safe format for all of them: torchao's tensor subclasses, HQQ's packed layers and
``quantize_dynamic``'s packed params save through ``torch.save`` (pickle), and ``torch.load`` of a
pickle is exactly what loading must never do. The cost: the artifact holds the fp32 weights (4
bytes per parameter; SmolLM2-135M: 540 MB, where its Q4_1 GGUF is 98 MB) and loading spends the
method's quantization time once (seconds at 135M). The GGUF file itself is not kept: the weights
as measured, in safetensors, load without ``gguf``/``accelerate`` and without re-dequantizing.

How MLflow loads it: as a pyfunc whose ``loader_module`` is this module (MLflow's own flavors work
the same way): MLflow imports ``quantrack.lm.served`` from the installed quantrack and calls
:func:`_load_pyfunc` with the data folder. Nothing from the model's folder is executed or
unpickled; not even a code file of our own is copied into it ("models from code" would run one).

What it answers (:class:`ServedLM`): rows of ``prompt`` (text) and optionally ``max_new_tokens``
(an integer, at most :data:`MAX_NEW_TOKENS`), each answered with greedy decoding (deterministic).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

META = "lm.json"
MODEL_DIR = "model"
FORMAT = 1
# One request holds the server's worker for its whole decode: SmolLM2-135M decodes ~20-60 tokens/s
# on a shared 2-core CPU, so 256 tokens take 5-13 s, inside MLflow's 60 s request timeout; without
# a cap, one request could keep the worker (and the CPU) busy for minutes.
MAX_NEW_TOKENS = 256
MAX_ROWS = 16  # prompts per request, for the same reason: 16 x 256 tokens is the most one request may ask
MAX_PROMPT_CHARS = 20_000  # refused before tokenizing: far beyond any context this serves, cheap to check


def save_data(model, tokenizer, method: str, config: dict[str, Any], folder: str | Path,
              default_max_new_tokens: int) -> Path:
    """Write what :func:`load_data` re-creates the variant from: the fp32 model, its tokenizer, lm.json."""
    from quantrack.lm.methods import get_lm_method

    lm_method = get_lm_method(method)
    lm_method.config.from_dict(dict(config), method=method)  # a config that cannot be re-created is refused now
    folder = Path(folder)
    target = folder / MODEL_DIR
    target.mkdir(parents=True, exist_ok=False)
    from transformers.utils import logging as hf_logging

    from quantrack.core.environment import env_override

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # "Writing model shards": no bar on the user's terminal
    try:
        with env_override({"TQDM_DISABLE": "1"}):
            _save_model(model, target)
            tokenizer.save_pretrained(target)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    meta = {"format": FORMAT, "method": method, "method_config": dict(config),
            "default_max_new_tokens": int(min(default_max_new_tokens, MAX_NEW_TOKENS)),
            "max_new_tokens_limit": MAX_NEW_TOKENS, "model_class": type(model).__name__}
    (folder / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return folder


def _save_model(model, target: Path) -> None:
    """config.json, generation_config.json and model.safetensors, written by hand rather than by
    ``save_pretrained``, which refuses a model read from a GGUF file ("quantized with gguf and is not
    serializable"; its weights are plain float32 tensors by then). A weight tied to another (the output
    projection of a small LM) is written once, under its first name, as transformers' own checkpoints
    do; loading ties it again (``tie_word_embeddings``)."""
    import copy

    from safetensors.torch import save_file

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):  # the GGUF reader's note: these weights are float now
        del config.quantization_config
    config.save_pretrained(target)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(target)
    tensors, seen = {}, set()
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        if key in seen:
            continue
        seen.add(key)
        tensors[name] = tensor.detach().contiguous()
    save_file(tensors, str(target / "model.safetensors"), metadata={"format": "pt"})


def load_data(folder: str | Path) -> tuple[Any, Any, dict[str, Any]]:
    """(the re-created variant, its tokenizer, lm.json) from a folder :func:`save_data` wrote."""
    from quantrack.errors import QuantrackError
    from quantrack.lm.loading import load_causal_lm
    from quantrack.lm.methods import get_lm_method
    from quantrack.methods.base import quiet_warnings

    folder = Path(folder)
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise QuantrackError(f"{folder} is not a quantrack LM package (no readable {META}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise QuantrackError(f"{folder / META} is of an unknown format {meta.get('format') if isinstance(meta, dict) else meta!r}")
    model, tokenizer, _ = load_causal_lm(folder / MODEL_DIR)
    method = get_lm_method(meta["method"])
    config = method.config.from_dict(meta.get("method_config") or {}, method=meta["method"])
    with quiet_warnings():
        variant = method.build(model, config)
    return variant.eval(), tokenizer, meta


def _load_pyfunc(data_path: str) -> ServedLM:
    """MLflow's loader-module entry point (``mlflow.pyfunc.load_model`` and the scoring server call it)."""
    variant, tokenizer, meta = load_data(data_path)
    return ServedLM(variant, tokenizer, meta)


class ServedLM:
    """Greedy text generation for rows of {"prompt": str, "max_new_tokens": int (optional)}."""

    def __init__(self, model, tokenizer, meta: dict[str, Any]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.method = meta["method"]
        self.default_max_new_tokens = int(meta.get("default_max_new_tokens") or 32)
        self.positions = getattr(model.config, "max_position_embeddings", None)
        # The scoring server may call predict from several threads; one decode at a time keeps the
        # torch threads from being split between requests (and the KV caches from adding up).
        self._lock = threading.Lock()

    def get_raw_model(self):
        """The re-created variant (MLflow's ``PyFuncModel.get_raw_model``)."""
        return self.model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> list[str]:
        rows = parse_rows(model_input, self.default_max_new_tokens)
        ids = []
        for i, (prompt, _) in enumerate(rows):
            tokens = self.tokenizer(prompt)["input_ids"]  # the tokenizer's own special tokens (a BOS, if it adds one)
            if not tokens:
                raise _bad(f"row {i}: the prompt encodes to no tokens")
            ids.append(tokens)
        if self.positions:
            for i, ((_, n), tokens) in enumerate(zip(rows, ids, strict=True)):
                if len(tokens) + n > self.positions:
                    raise _bad(f"row {i}: {len(tokens)} prompt tokens + max_new_tokens {n} exceed the model's "
                               f"{self.positions} positions")
        with self._lock:
            return [self.generate(tokens, n) for tokens, (_, n) in zip(ids, rows, strict=True)]

    def generate(self, tokens: list[int], max_new_tokens: int) -> str:
        """Greedy decoding of one prompt (unbatched: padding would change a prompt's numerics)."""
        import torch

        from quantrack.lm.generation import _pad

        x = torch.tensor([tokens], dtype=torch.long)
        with torch.inference_mode():
            out = self.model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=max_new_tokens,
                                      do_sample=False, pad_token_id=_pad(self.model))
        return self.tokenizer.decode(out[0, x.shape[1]:], skip_special_tokens=True)


def parse_rows(model_input: Any, default_max_new_tokens: int) -> list[tuple[str, int]]:
    """[(prompt, max_new_tokens)] from a DataFrame, a dict or a list of dicts; a 400-class error otherwise."""
    import math
    import numbers

    if hasattr(model_input, "to_dict") and hasattr(model_input, "columns"):  # a pandas DataFrame
        records = model_input.to_dict(orient="records")
    elif isinstance(model_input, dict):
        records = _dict_rows(model_input)
    elif isinstance(model_input, (list, tuple)) and all(isinstance(r, dict) for r in model_input):
        records = list(model_input)
    else:
        raise _bad('expected rows of {"prompt": text, "max_new_tokens": integer}, got '
                   f"{type(model_input).__name__}")
    if not records:
        raise _bad("no rows: send at least one prompt")
    if len(records) > MAX_ROWS:
        raise _bad(f"{len(records)} rows in one request; at most {MAX_ROWS}")
    rows = []
    for i, r in enumerate(records):
        unknown = sorted(set(r) - {"prompt", "max_new_tokens"})
        if unknown:
            raise _bad(f"row {i}: unknown field {unknown[0]!r}; the fields are prompt and max_new_tokens")
        prompt = r.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad(f"row {i}: prompt must be a non-empty text, got {_shown(prompt)}")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise _bad(f"row {i}: prompt is {len(prompt):,} characters; at most {MAX_PROMPT_CHARS:,}")
        n = r.get("max_new_tokens")
        if n is None or (isinstance(n, float) and math.isnan(n)):  # optional: absent, or a hole pandas filled
            n = default_max_new_tokens
        elif isinstance(n, bool) or not isinstance(n, numbers.Real) or not float(n).is_integer():
            raise _bad(f"row {i}: max_new_tokens must be an integer, got {_shown(n)}")
        if not 1 <= n <= MAX_NEW_TOKENS:
            shown = f"{int(n)}" if abs(n) < 1e15 else f"{float(n):g}"
            raise _bad(f"row {i}: max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, got {shown}")
        n = int(n)
        rows.append((prompt, n))
    return rows


def _dict_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """{"prompt": "...", ...} is one row; {"prompt": [...], "max_new_tokens": [...]} is columns."""
    def column(v: Any) -> bool:
        return isinstance(v, (list, tuple)) or getattr(v, "ndim", 0) == 1  # a list or a 1-D numpy array

    if column(d.get("prompt")):
        n = len(d["prompt"])
        cols = {k: (list(v) if column(v) else [v] * n) for k, v in d.items()}
        if any(len(v) != n for v in cols.values()):
            raise _bad("the columns have different lengths")
        return [{k: v[i] for k, v in cols.items()} for i in range(n)]
    return [d]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _bad(message: str) -> Exception:
    """What MLflow's scoring server answers with 400 and this message (mlflow_models is the door to MLflow)."""
    from quantrack.mlflow_models.lm_packaging import invalid_input

    return invalid_input(message)
