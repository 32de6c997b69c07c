"""Which transformer blocks of a causal LM cost perplexity when quantized, and the mixed variant that
keeps the worst of them in float.

A *unit* is one decoder block (every Linear inside ``model.layers[i]``: attention and MLP
projections), plus each Linear outside the blocks the base method quantizes (``lm_head`` under
``dynamic-int8``, which quantizes every Linear). Each unit is quantized alone with the base
method, the copy scored on the calibration windows and its perplexity increase over fp32 on
those same windows recorded with its paired bootstrap interval (perplexity.py): one scoring pass
per unit.

The blocks to keep float are chosen on **calibration** windows only; the comparison then judges
the mixed variant on the evaluated windows, which never took part in the choice (ranking on the
rows that judge would favour the mixed variant by construction). Without calibration texts the
method says it cannot run rather than borrowing the evaluated ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.lm.unavailable import LMMethodUnavailable

BASES = ("int8-dynamic", "int8-weight-only", "int4-weight-only", "dynamic-int8")


@dataclass(frozen=True)
class MixedLM(MethodConfig):
    base: str = knob("int8-dynamic", "torchao's int8 activations + int8 weights: the int8-compute method a CPU "
                                     "user would ship, and on SmolLM2 the int8 one that misses a 2 % budget "
                                     "(+3.7 %); dynamic-int8 loses ~200 %, over many blocks (worst alone +25 %, "
                                     "lm_head +9 %), more than a few float blocks win back")
    keep: int = knob(3, "blocks kept in float: 3 of SmolLM2's 30 (10 % of the block weights) wins back the worst "
                        "blocks' share at a small cost in bytes; on SmolLM2 int8-dynamic's loss is spread (the "
                        "worst block alone +1.1 %: benchmarks/results/smollm_sensitivity.md), so not all of it")
    windows: int = knob(4, "calibration windows each unit is scored on: a ranking needs the order, not a tight "
                           "figure, and it costs one scoring pass per unit (31 for SmolLM2)")
    SEARCH_SPACE = {"keep": (1, 3, 6), "base": ("int8-dynamic", "dynamic-int8")}

    def __post_init__(self) -> None:
        if self.base not in BASES:
            raise QuantrackError(f"mixed: base must be one of {', '.join(BASES)}, got {self.base!r}")
        for name in ("keep", "windows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "keep" else 1):
                raise QuantrackError(f"mixed: {name} must be an integer >= {0 if name == 'keep' else 1}, "
                                     f"got {value!r}")


@dataclass(frozen=True)
class Base:
    """The method mixed-blocks applies (the registry builds it: lm/methods.py ``base_of``)."""

    name: str
    quantize: Callable[[Any, Collection[str]], Any]  # (fp32 model, Linear names) -> a copy with just those quantized
    linears: Callable[[Any], list[str]]  # the Linear names the method quantizes on the whole model


def blocks_of(model) -> tuple[str, Any]:
    """(name, ModuleList) of the decoder blocks: the ModuleList as long as ``num_hidden_layers``."""
    from torch import nn

    cfg = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") else model.config
    n = getattr(cfg, "num_hidden_layers", None)
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return name, module
    raise QuantrackError(f"cannot find the decoder blocks of {type(model).__name__} (a ModuleList of "
                         f"num_hidden_layers={n})")


def units(model, base: Base) -> dict[str, list[str]]:
    """unit -> the Linear names it holds, blocks first (in order), then Linears outside the blocks."""
    prefix, blocks = blocks_of(model)
    out: dict[str, list[str]] = {f"{prefix}.{i}": [] for i in range(len(blocks))}
    for n in base.linears(model):
        inside = n.startswith(prefix + ".")
        out.setdefault(f"{prefix}.{n[len(prefix) + 1:].split('.', 1)[0]}" if inside else n, []).append(n)
    return {u: names for u, names in out.items() if names}


def _calibration(ids: np.ndarray, n: int) -> np.ndarray:
    take = np.linspace(0, len(ids) - 1, min(n, len(ids))).round().astype(int)
    return ids[np.unique(take)]


def block_table(model, calibration_ids: np.ndarray, config: MixedLM, base: Base, progress: Any = None) -> Any:
    """Each unit quantized alone with ``base``, scored on ``config.windows`` calibration windows: rows
    ``{"layer", "linears", "params", "perplexity", "drop" (relative increase), "drop_ci", "kept_float"}``,
    largest increase first."""
    import gc

    from quantrack.lm.perplexity import perplexity_stats, score_windows
    from quantrack.methods._mixed import Table

    started = time.perf_counter()
    ids = _calibration(calibration_ids, config.windows)
    fp32 = score_windows(model, ids)
    modules = dict(model.named_modules())
    rows = []
    for unit, names in units(model, base).items():
        if progress is not None:
            progress.stage(f"sensitivity: {base.name} on {unit} alone")
        variant = base.quantize(model, names)
        scores = score_windows(variant, ids)
        del variant
        gc.collect()
        stats = perplexity_stats(fp32, scores)
        rows.append({"layer": unit, "linears": len(names),
                     "params": int(sum(modules[n].weight.numel() for n in names)),
                     "perplexity": round(scores.perplexity, 4), "drop": stats.drop, "drop_ci": list(stats.drop_ci),
                     "kept_float": False})
    table = Table(sorted(rows, key=lambda r: r["drop"], reverse=True))
    table.method, table.evaluations, table.rows, table.workers = base.name, len(rows) + 1, len(ids), 1
    table.seconds = time.perf_counter() - started
    table.fp32_perplexity = fp32.perplexity  # on the calibration windows, beside the table's
    table.tokens_scored = int(fp32.tokens.sum())
    return table


def build_mixed(model, config: MixedLM, calibration_ids: np.ndarray | None, base: Base, progress: Any = None) -> Any:
    """``base`` on every unit but the ``config.keep`` worst (ranked on calibration windows only)."""
    if calibration_ids is None:
        raise LMMethodUnavailable("needs calibration_texts (other than the evaluated texts) to rank the blocks on: "
                                  "the windows that judge a variant never choose its float blocks")
    parts = units(model, base)
    if config.keep >= len(parts):
        raise LMMethodUnavailable(f"keep={config.keep} would leave none of the {len(parts)} units quantized")
    table = block_table(model, calibration_ids, config, base, progress)
    kept = {r["layer"] for r in table[:config.keep]}
    for r in table:
        r["kept_float"] = r["layer"] in kept
    variant = base.quantize(model, [n for u, names in parts.items() if u not in kept for n in names])
    variant.quantrack_sensitivity = table  # compare_lm puts it in the report
    variant.float_blocks = sorted(kept)
    return variant
