"""Aliases of the registered model: ``challenger`` for each run's pick, ``champion`` moved only on merit.

MLflow's habit: a new model is a *challenger*, and the *champion* (what the README's serve
command serves) changes only on purpose. So each run points ``challenger`` at its own
champion's version, and moves ``champion`` to it only when

* there is no champion yet, or
* the user says so (``--promote``, or ``quantrack promote NAME VERSION`` afterwards), or
* it beats the current champion's version **on the same data fingerprint under the same
  rule** (``prefer`` and ``max_accuracy_drop``): see :func:`beats`.

Different data or a different rule cannot be compared, so the alias stays and the decision
says why. A language model's versions are judged the same way on perplexity (lower is better;
its budget a relative increase, ``quantrack compare-lm``): the version's ``quantrack.metric`` tag
says which score it carries. Everything compared is read from the versions' own tags, so the decision needs no
run to be fetched and is the same on ``quantrack sync`` as it would have been live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from quantrack.core.budget import Budget
from quantrack.errors import QuantrackError

CHAMPION = "champion"
ACCURACY = "accuracy"
PERPLEXITY = "perplexity"
_TAGS = {ACCURACY: ("quantrack.accuracy", "quantrack.max_accuracy_drop"),  # metric -> (score tag, budget tag)
         PERPLEXITY: ("quantrack.perplexity", "quantrack.max_increase")}
CHALLENGER = "challenger"
# Latencies of two runs were measured at different moments on a shared machine: only a clear
# gap counts, the same 5 % the side-by-side verdicts use.
LATENCY_MARGIN = 0.05


@dataclass
class AliasDecision:
    challenger: str | None  # version now at @challenger
    champion: str | None  # version at @champion after the decision
    moved: bool  # @champion moved to this run's version
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Candidate:
    """The figures one version is judged on, as its tags store them."""

    version: str
    fingerprint: str
    prefer: str
    max_drop: float  # accuracy: points, as the tag stores it; perplexity: the relative increase (0.02)
    score: float  # accuracy (higher is better) or perplexity (lower is better), as ``metric`` says
    file_bytes: float | None
    p50_us: float | None  # at the whole test split (an LM: one decode step)
    metric: str = ACCURACY

    @classmethod
    def from_tags(cls, version: str, tags: dict[str, str]) -> Candidate | None:
        metric = tags.get("quantrack.metric", ACCURACY)  # versions registered before LMs carry none: accuracy
        try:
            if metric not in _TAGS:
                raise ValueError(metric)
            score_tag, drop_tag = _TAGS[metric]
            found = cls(version=str(version), fingerprint=tags["quantrack.data_sha256"],
                        prefer=tags["quantrack.prefer"], max_drop=float(tags[drop_tag]), score=float(tags[score_tag]),
                        file_bytes=_num(tags.get("quantrack.file_bytes")), p50_us=_num(tags.get("quantrack.p50_us")),
                        metric=metric)
            found.budget  # noqa: B018 -- a rule no budget can be (tags written by hand) is no candidate
            return found
        except (KeyError, ValueError, QuantrackError):
            return None  # a version registered before these tags existed, or by hand

    @property
    def budget(self) -> Budget:
        if self.metric == PERPLEXITY:
            return Budget(max_drop=self.max_drop, confidence=None, prefer=self.prefer, score_name="perplexity increase")
        return Budget.from_points(self.max_drop, confidence=None, prefer=self.prefer)

    def loss_to(self, old: Candidate) -> float:
        """What this version loses against ``old``, in the budget's units (accuracy points as a fraction;
        perplexity: the relative increase)."""
        if self.metric == PERPLEXITY:
            return self.score / old.score - 1
        return old.score - self.score

    def scores_better(self, old: Candidate) -> bool:
        return self.score < old.score if self.metric == PERPLEXITY else self.score > old.score

    def budget_text(self) -> str:
        return f"{100 * self.max_drop:g} % perplexity" if self.metric == PERPLEXITY else self.budget.text()

    def score_text(self, old: Candidate) -> str:
        if self.metric == PERPLEXITY:
            return f"perplexity {self.score:.3f} vs {old.score:.3f}"
        return f"accuracy {100 * self.score:.2f}% vs {100 * old.score:.2f}%"


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def beats(new: Candidate, old: Candidate) -> tuple[bool, str]:
    """Does ``new`` beat ``old``? Only on the same data and rule; returns (verdict, one-clause reason).

    The budget applies between the two as it applies to a variant against fp32: ``new`` may lose at
    most the budget to ``old`` (accuracy points, or a relative perplexity increase) and must then be
    strictly better at what ``prefer`` optimizes; when that figure is no worse, the better score alone wins.
    """
    if new.fingerprint != old.fingerprint:
        return False, (f"version {old.version} was measured on other data (sha256 {old.fingerprint[:12]}…, "
                       f"this run {new.fingerprint[:12]}…), so the two cannot be compared")
    if (new.metric, new.prefer, new.max_drop) != (old.metric, old.prefer, old.max_drop):
        return False, (f"version {old.version} was chosen under another rule (prefer {old.prefer}, "
                       f"{old.budget_text()}; this run: prefer {new.prefer}, "
                       f"{new.budget_text()}), so the two cannot be compared")
    acc = new.score_text(old)
    if not new.budget.within(new.loss_to(old)):
        return False, f"it loses more than {new.budget_text()} to version {old.version} ({acc})"
    if new.prefer == "size":
        a, b = new.file_bytes, old.file_bytes
        if a is None or b is None:
            return False, f"version {old.version} lacks the file size to compare"
        better, worse, figure = a < b, a > b, f"file {a:,.0f} B vs {b:,.0f} B"
    else:
        a, b = new.p50_us, old.p50_us
        if a is None or b is None:
            return False, f"version {old.version} lacks the latency to compare"
        better, worse, figure = a < b * (1 - LATENCY_MARGIN), a > b * (1 + LATENCY_MARGIN), \
            f"p50 {a:,.1f} µs vs {b:,.1f} µs"
    if better:
        return True, f"it beats version {old.version}: {figure}, {acc}"
    if not worse and new.scores_better(old):
        return True, (f"it beats version {old.version}: {figure}, "
                      f"{'lower' if new.metric == PERPLEXITY else 'higher'} {acc}")
    return False, f"it does not beat version {old.version} ({figure}, {acc})"


def candidate_tags(entry: dict[str, Any], intent: dict[str, Any]) -> dict[str, str]:
    """The tags :class:`Candidate` reads, for a version about to be created from a registry intent
    (an LM's intent has ``rule.metric`` "perplexity" and ``rule.max_increase``)."""
    rule = intent.get("rule") or {}

    def text(x: Any) -> str:
        return "" if x is None else str(x)

    tags = {"quantrack.data_sha256": text(intent.get("fingerprint")), "quantrack.prefer": text(rule.get("prefer")),
            "quantrack.file_bytes": text(entry.get("file_bytes")), "quantrack.p50_us": text(entry.get("p50_us"))}
    if rule.get("metric") == PERPLEXITY:
        tags.update({"quantrack.metric": PERPLEXITY, "quantrack.max_increase": text(rule.get("max_increase")),
                     "quantrack.perplexity": text(entry.get("perplexity"))})
    else:
        tags["quantrack.max_accuracy_drop"] = text(rule.get("max_accuracy_drop"))
    return tags


def update_aliases(client, intent: dict[str, Any], versions: dict[str, str]) -> AliasDecision | None:
    """Point ``challenger`` at this run's champion version; move ``champion`` by the rules above.

    Safe to repeat (``sync``): a second call finds the champion already there and changes nothing.
    """
    from mlflow.exceptions import MlflowException

    name, pick = intent["name"], intent["champion"]
    version = versions.get(pick)
    if version is None:
        return None
    if not intent.get("alias"):  # the champion is outside its own budget: nothing to promote
        return AliasDecision(None, _alias_version(client, name, CHAMPION), False,
                             f"{pick} is outside the accuracy budget, so no alias moved")
    set_alias(client, name, CHALLENGER, version)
    current = _alias_version(client, name, CHAMPION)
    if current == version:
        return AliasDecision(version, version, True, f"version {version} is already @{CHAMPION}")
    if intent.get("promote"):
        why = "promoted on request (--promote)"
    elif current is None:
        why = f"there was no @{CHAMPION} yet"
    else:
        try:
            old_mv = client.get_model_version(name, current)
        except MlflowException:
            old_mv = None
        new_mv = client.get_model_version(name, version)
        new = Candidate.from_tags(version, new_mv.tags or {})
        old = Candidate.from_tags(current, (old_mv.tags or {}) if old_mv else {})
        if new is None or old is None:
            ok, why = False, f"version {current} carries no quantrack figures to compare with"
        else:
            ok, why = beats(new, old)
        if not ok:
            return AliasDecision(version, current, False,
                                 f"@{CHAMPION} stays at version {current}: {why}; to ship this one anyway: "
                                 f"quantrack promote {name} {version}")
    set_alias(client, name, CHAMPION, version)
    return AliasDecision(version, version, True, f"@{CHAMPION} moved to version {version}: {why}")


def set_alias(client, name: str, alias: str, version: str) -> None:
    """Point ``alias`` at ``version``. MLflow reads the alias, then inserts or updates it: two runs
    registering at once can both find it missing, and the second insert breaks its unique key (a
    400 behind a server). The alias exists then, so another attempt updates it."""
    from quantrack.mlflow_models.connection import retry_on_conflict

    retry_on_conflict(client.set_registered_model_alias, name, alias, str(version))


def _alias_version(client, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def promote(client, name: str, version: str) -> str:
    """``quantrack promote``: move ``champion`` to an existing version on purpose; return what changed."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, str(version))
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise QuantrackError(f"registered model {name!r} has no version {version}") from None
        raise
    before = _alias_version(client, name, CHAMPION)
    if before == str(version):
        return f"models:/{name}@{CHAMPION} is already version {version}"
    set_alias(client, name, CHAMPION, str(version))
    return (f"models:/{name}@{CHAMPION} = version {version}"
            + (f" (was version {before})" if before else " (there was none)"))
