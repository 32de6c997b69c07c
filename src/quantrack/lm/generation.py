"""The greedy generation check: does the variant write what fp32 writes?

For each prompt, ``max_new_tokens`` tokens by greedy decoding (``do_sample=False``,
``min_new_tokens`` = ``max_new_tokens`` so an end-of-text token does not shorten one side). A
prompt counts as matching when its first ``check_tokens`` generated tokens equal fp32's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Generated:
    tokens: tuple[tuple[int, ...], ...]  # per prompt, the generated token ids
    seconds: float  # wall time of all the generate calls (one pass, no spread: the cost module times)


def generate(model, prompts: Sequence[np.ndarray], max_new_tokens: int) -> Generated:
    import time

    import torch

    out = []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for p in prompts:
            x = torch.from_numpy(np.ascontiguousarray(p))[None]
            g = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=max_new_tokens,
                               min_new_tokens=max_new_tokens, do_sample=False, pad_token_id=_pad(model))
            out.append(tuple(int(t) for t in g[0, x.shape[1]:]))
    return Generated(tuple(out), time.perf_counter() - t0)


def _pad(model) -> int:
    cfg = model.generation_config
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else cfg.eos_token_id
    if isinstance(pad, (list, tuple)):
        pad = pad[0]
    return int(pad) if pad is not None else 0


def match_share(variant: Generated, base: Generated, check_tokens: int) -> float:
    """Share of prompts whose first ``check_tokens`` generated tokens are fp32's."""
    same = [v[:check_tokens] == b[:check_tokens] for v, b in zip(variant.tokens, base.tokens, strict=True)]
    return float(np.mean(same)) if same else float("nan")
