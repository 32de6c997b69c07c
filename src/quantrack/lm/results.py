"""What a language-model comparison holds per variant: a VariantResult with the LM's own figures.

``score`` is the perplexity (lower is better); ``stats`` holds its interval and, as ``drop`` /
``drop_ci``, the *relative* increase over fp32 with its paired interval (positive: worse), both
from a bootstrap over windows (perplexity.py). ``latency`` holds the decode step (batch 1), so
the MLflow child runs chart it under the usual names; ``prefill`` is beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from quantrack.core.results import VariantResult
from quantrack.core.results import Latency
from quantrack.lm.cost import Memory


@dataclass
class LMVariantResult(VariantResult):
    generation_match: float | None = None  # share of prompts whose first check_tokens tokens are fp32's
    prefill: Latency | None = None
    decode: Latency | None = None
    weight_bytes: int | None = None
    memory: Memory | None = None
    generate_seconds: float | None = None  # one pass of the generation check (all prompts), for scale only

    @property
    def perplexity(self) -> float | None:
        return self.score

    @property
    def increase(self) -> float | None:
        return self.stats.drop if self.stats else None

    @property
    def tokens_per_s(self) -> float | None:
        return 1e6 / self.decode.p50_us if self.decode else None

    def extra_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.score is not None:
            out["perplexity"] = self.score
        if self.stats is not None:
            out["perplexity_ci_lo"], out["perplexity_ci_hi"] = self.stats.score_ci
            out["increase"] = self.stats.drop if self.stats.drop is not None else 0.0
            if self.stats.drop_ci is not None:
                out["increase_ci_lo"], out["increase_ci_hi"] = self.stats.drop_ci
        if self.decode is not None:
            out["tokens_per_s"] = 1e6 / self.decode.p50_us
            out["decode_p50_us"] = self.decode.p50_us
        if self.prefill is not None:
            out["prefill_p50_us"] = self.prefill.p50_us
        if self.generation_match is not None:
            out["generation_match"] = self.generation_match
        if self.weight_bytes is not None:
            out["weight_bytes"] = float(self.weight_bytes)
        if self.memory is not None and self.memory.peak_rss_bytes is not None:
            out["peak_rss_bytes"] = float(self.memory.peak_rss_bytes)
            out["added_rss_bytes"] = float(self.memory.added_bytes or 0)
        return out
