"""OpenVINO for causal LMs: the torch model as an IR whose KV cache is explicit inputs and outputs,
NNCF weight compression on that IR, and a thin variant the LM comparison runs like a transformers model.

Why not optimum-intel's ``OVModelForCausalLM`` (the stateful IR OpenVINO's docs recommend for LLMs):
``pip install optimum-intel`` here would replace transformers 5.24 by 5.5 and torch 2.13 by 2.14
(checked with ``--dry-run``). So the conversion is ``openvino.convert_model`` of a small torch
wrapper: ``(input_ids, position_ids, k_0, v_0, ..., k_L-1, v_L-1) -> (logits, k_0', v_0', ...)``,
the model's own forward with a transformers ``DynamicCache`` built from the given tensors (traced
once with a non-empty cache; a 0-length cache at prefill is the same graph). The IR is
*stateless*: each call passes the cache in and gets the grown cache back through numpy, where
optimum's stateful IR keeps it inside the plugin; at 135M parameters the cache of a short prompt is
~1-2 MB, small next to the weights each decode step reads, but it is a cost optimum would not pay.

What runs is exactly the saved IR (methods/_openvino.py writes it and reads it back, the classifier
methods' plumbing) on the CPU plugin with the thread count torch has when the variant is built (the
comparison's ``threads``), one stream, the latency hint. ``OpenVinoLM`` answers what the LM
comparison asks of a variant: ``model(input_ids=..., use_cache=..., cache=...)`` returning
``.logits`` (a torch tensor) and ``.past_key_values`` (an :class:`OpenVinoCache`, croppable like
``DynamicCache``), ``generate`` (greedy only, as the comparison uses it) and ``weight_bytes()``
(the IR's weights file: compressed weights with their scales and zero points).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from quantrack.lm.unavailable import LMMethodUnavailable
from quantrack.methods import _openvino as ovc


class _WithCache(nn.Module):
    """The causal LM's forward with its KV cache as flat tensors in and out (what gets traced)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, position_ids, *past):
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        for i, layer in enumerate(cache.layers):
            # set, not update(): update() concatenates onto an empty 1-D tensor, which does not convert
            layer.lazy_initialization(past[2 * i], past[2 * i + 1])
            layer.keys, layer.values = past[2 * i], past[2 * i + 1]
        out = self.model(input_ids=input_ids, position_ids=position_ids, cache=cache, use_cache=True)
        grown = out.cache
        return (out.logits, *(t for layer in grown.layers for t in (layer.keys, layer.values)))


def _shape(model) -> tuple[int, int, int]:
    """(layers, key/value heads, head dim) of a transformers decoder config."""
    cfg = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") else model.config
    heads = cfg.num_attention_heads
    kv = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return cfg.num_hidden_layers, kv, head_dim


def convert(model: nn.Module):
    """The float model as an ov.Model with the KV cache as inputs/outputs (batch, lengths dynamic)."""

    ov = ovc.ov_module()
    layers, kv, head_dim = _shape(model)
    wrapper = _WithCache(model)  # traced, not changed (a GGUF-loaded model refuses .float(): it is float already)
    ids = torch.zeros((1, 2), dtype=torch.long)  # 2 new tokens after 2 cached ones: every length > 1
    past = tuple(torch.zeros((1, kv, 2, head_dim)) for _ in range(2 * layers))
    example = (ids, torch.arange(2, 4)[None], *past)
    with ovc.quiet():
        try:
            # traced here without the re-run check (openvino's own trace runs it: a third of the conversion time);
            # the tests compare the IR's logits with the model's at prefill and at decode instead
            with torch.inference_mode(False), torch.no_grad():
                traced = torch.jit.trace(wrapper, example, strict=False, check_trace=False)
            return ov.convert_model(traced, example_input=example)
        except Exception as e:
            raise LMMethodUnavailable(f"OpenVINO conversion of the LM failed: {type(e).__name__}: "
                                      f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}") from None


@dataclass
class OpenVinoCache:
    """The KV cache between calls of an :class:`OpenVinoLM`: one (keys, values) pair of arrays per layer."""

    arrays: list[np.ndarray]

    def get_seq_length(self, layer: int = 0) -> int:
        return int(self.arrays[0].shape[2])

    def crop(self, max_length: int) -> None:
        """As ``DynamicCache.crop``: negative removes that many tokens from the end, else keep that many."""
        keep = self.get_seq_length() + max_length if max_length < 0 else max_length
        self.arrays = [a[:, :, :max(0, keep)] for a in self.arrays]


@dataclass(frozen=True)
class LMOutput:
    logits: torch.Tensor
    past_key_values: OpenVinoCache | None


class OpenVinoLM:
    """An LM IR on the CPU plugin, called like a transformers causal LM (batch of unpadded rows)."""

    def __init__(self, name: str, ir, model: nn.Module, *, compress_to_fp16: bool, precision: str | None) -> None:
        self.name = name
        self.config = model.config
        self.generation_config = copy.deepcopy(model.generation_config)
        self._layers, self._kv, self._head_dim = _shape(model)
        xml, weights = ovc.write_ir(ir, compress_to_fp16)
        params = sum(p.numel() for p in model.parameters())
        # the classifier methods' IR variant: reads back what was saved, compiles with the threads and precision
        self.ir = ovc.OpenVinoVariant(name, xml, weights, params, threads=torch.get_num_threads(), precision=precision)
        self.runtime = self.ir.runtime + ", KV cache passed in and out (stateless IR)"
        self._request = self.ir.compiled.create_infer_request()
        self._outputs = list(self.ir.compiled.outputs)

    def eval(self) -> OpenVinoLM:
        return self

    def weight_bytes(self) -> int:
        """The IR's weights file: compressed weights, their scales and zero points, the float rest."""
        return len(self.ir.weights)

    def new_cache(self, batch: int = 1) -> OpenVinoCache:
        return OpenVinoCache([np.zeros((batch, self._kv, 0, self._head_dim), np.float32)
                              for _ in range(2 * self._layers)])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, use_cache: bool = False,
                cache: OpenVinoCache | None = None) -> LMOutput:
        if attention_mask is not None and not bool(attention_mask.all()):
            raise ValueError(f"{self.name} runs unpadded rows only (the attention mask has zeros)")
        ids = np.ascontiguousarray(input_ids.numpy() if isinstance(input_ids, torch.Tensor) else input_ids,
                                   dtype=np.int64)
        state = cache if cache is not None else self.new_cache(ids.shape[0])
        start = state.get_seq_length()
        positions = np.broadcast_to(np.arange(start, start + ids.shape[1], dtype=np.int64), ids.shape)
        result = self._request.infer([ids, np.ascontiguousarray(positions), *state.arrays])
        logits = torch.from_numpy(result[self._outputs[0]])
        grown = [result[o] for o in self._outputs[1:]]
        if cache is not None:
            cache.arrays = grown  # in place, as a DynamicCache grows
            state = cache
        else:
            state.arrays = grown
        return LMOutput(logits, state if use_cache else None)

    __call__ = forward

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, max_new_tokens: int = 20,
                 min_new_tokens: int = 0, do_sample: bool = False, pad_token_id: int | None = None) -> torch.Tensor:
        """Greedy decoding with the KV cache, as ``transformers`` ``generate(do_sample=False)`` does: the
        end-of-text token is barred for the first ``min_new_tokens``; a row that ends is padded."""
        if do_sample:
            raise ValueError(f"{self.name} generates greedily only")
        eos = self.generation_config.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        cache = self.new_cache(input_ids.shape[0])
        out = self(input_ids=input_ids, attention_mask=attention_mask, use_cache=True, cache=cache)
        tokens, done = input_ids, torch.zeros(input_ids.shape[0], dtype=torch.bool)
        for step in range(max_new_tokens):
            logits = out.logits[:, -1].float()
            if step < min_new_tokens and eos:
                logits[:, eos] = -float("inf")
            nxt = logits.argmax(-1)
            if pad_token_id is not None:
                nxt = torch.where(done, torch.full_like(nxt, pad_token_id), nxt)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            done |= torch.isin(nxt, torch.tensor(eos, dtype=nxt.dtype)) if eos else done
            if bool(done.all()) or step + 1 == max_new_tokens:
                break
            out = self(input_ids=nxt[:, None], use_cache=True, cache=cache)
        return tokens


def build(model: nn.Module, name: str, *, mode: str | None = None, compress_to_fp16: bool = True,
          precision: str | None = None, **options) -> OpenVinoLM:
    """Convert, compress the weights with NNCF when ``mode`` is given, save the IR, run what was saved."""
    from quantrack.methods import _openvino_weights as ovw
    from quantrack.methods.base import MethodUnavailable

    try:
        ir = convert(model)
        if mode is not None:
            ir = ovw.compress(ir, mode, **options)
        return OpenVinoLM(name, ir, model, compress_to_fp16=compress_to_fp16, precision=precision)
    except MethodUnavailable as e:
        raise LMMethodUnavailable(str(e)) from None
