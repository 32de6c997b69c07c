"""The champion budget: one frozen, validated value, built once and taken by everything that decides.

``max_drop`` is in the score's own units: accuracy is a fraction (0.01 = 1 point), a user's metric
(cosine, say) is in its own units. The command line speaks points of accuracy and converts once,
with :meth:`Budget.from_points`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from quantrack.errors import QuantrackError

PREFER_CHOICES = ("size", "latency")
ACCURACY = "accuracy"
DEFAULT_MAX_DROP = 0.01  # 1 point of accuracy: what the assignment's "small drop" most often means
DEFAULT_CONFIDENCE = 0.95
# Float noise: 343/360 vs 346/360 is a drop of exactly 1 point, which a 1-point budget must admit.
_EPS = 1e-12


@dataclass(frozen=True)
class Budget:
    """How much score the champion may lose against fp32, how sure we must be, and what it optimises.

    confidence: the level of the paired drop interval whose upper end must be within ``max_drop``;
    None judges on the point estimate alone. prefer: "size" (smallest file) or "latency" (fastest
    measured speed-up). score_name: "accuracy", or the name of the user's metric.
    """

    max_drop: float = DEFAULT_MAX_DROP
    confidence: float | None = DEFAULT_CONFIDENCE
    prefer: str = "size"
    score_name: str = ACCURACY

    def __post_init__(self) -> None:
        d = self.max_drop
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d < 0:
            raise QuantrackError(f"max_drop must be a number >= 0 {self.unit_hint()}, got {d!r}")
        if self.score_name == ACCURACY and d >= 1:
            raise QuantrackError(f"max_drop={d!r} cannot be a drop of accuracy: accuracy is a fraction, so max_drop "
                                 f"is too (0.01 = 1 point); for {d:g} points pass max_drop={d / 100:g}")
        object.__setattr__(self, "max_drop", float(d))
        c = self.confidence
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.5 <= c < 1):
            raise QuantrackError(f"confidence must be between 0.5 and 1 (e.g. 0.95), or None to judge on point "
                                 f"estimates, got {c!r}")
        if self.prefer not in PREFER_CHOICES:
            raise QuantrackError(f"prefer must be one of {', '.join(PREFER_CHOICES)}, got {self.prefer!r}")
        if not isinstance(self.score_name, str) or not self.score_name:
            raise QuantrackError(f"score_name must be a non-empty string, got {self.score_name!r}")

    @classmethod
    def from_points(cls, points: float, *, confidence: float | None = DEFAULT_CONFIDENCE,
                    prefer: str = "size") -> Budget:
        """The command line's ``--max-accuracy-drop`` (points of accuracy) as a budget: the one conversion."""
        if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points) \
                or not 0 <= points < 100:
            raise QuantrackError(f"--max-accuracy-drop must be between 0 and 100 points, got {points!r}")
        return cls(max_drop=points / 100, confidence=confidence, prefer=prefer, score_name=ACCURACY)

    def unit_hint(self) -> str:
        return "(a fraction of accuracy: 0.01 = 1 point)" if self.score_name == ACCURACY \
            else f"(in {self.score_name}'s own units)"

    def within(self, drop: float) -> bool:
        """Whether a drop (fp32's score minus the variant's; the upper end of its interval under the
        confidence rule) is within the budget. The one place that decides it."""
        return drop <= self.max_drop + _EPS

    def text(self) -> str:
        """The budget as people say it: '1 point' of accuracy, '0.01 of cosine' for a metric."""
        if self.score_name == ACCURACY:
            points = self.points
            return f"{points:g} point" + ("" if points == 1 else "s")
        return f"{self.max_drop:g} of {self.score_name}"

    def with_score(self, score_name: str) -> Budget:
        return replace(self, score_name=score_name)

    def judged_with(self, confidence: float | None) -> Budget:
        """The same budget judged at another confidence (None: on point estimates, when a metric
        gives no intervals)."""
        return replace(self, confidence=confidence)

    @property
    def points(self) -> float:
        """An accuracy budget in points (what the CLI and the registry's tags speak)."""
        return round(100 * self.max_drop, 10)

    def to_dict(self) -> dict[str, Any]:
        return {"max_drop": self.max_drop, "confidence": self.confidence, "prefer": self.prefer,
                "score_name": self.score_name}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Budget:
        return cls(**{k: d[k] for k in ("max_drop", "confidence", "prefer", "score_name") if k in d})

