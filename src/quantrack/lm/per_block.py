"""``lm_sensitivity``: the per-block table alone, without a comparison (sensitivity.py measures it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def lm_sensitivity(model: Any, tokenizer: Any, texts: str | Sequence[str], *, base: str = "int8-dynamic",
                   context: int = 512, windows: int = 4, threads: int = 1, progress: Any = None) -> Any:
    """Each block of ``model`` quantized alone with the LM method ``base``, its perplexity increase on
    ``windows`` windows of ``texts`` (evenly spaced), largest first; ``.cost()`` says what it took.
    Rank on texts you will not judge the mixed variant on."""
    from quantrack.evaluate.process_state import preserved_process_state
    from quantrack.lm.corpus import make_windows
    from quantrack.lm.methods import base_of
    from quantrack.lm.sensitivity import MixedLM, block_table
    from quantrack.methods.base import quiet_warnings

    config = MixedLM(base=base, windows=windows)
    ids = make_windows(tokenizer, texts, context).ids
    model.eval()
    with preserved_process_state(threads), quiet_warnings():
        return block_table(model, ids, config, base_of(base), progress)
