"""One trial: build a recipe's variant, score it on the selection rows, time it at batch 1 beside fp32.

:class:`Setup` holds what every trial needs (the float model, calibration and selection rows, the
measuring settings) and builds the shared pieces once per process: the fp32 variant and its outputs,
the exported ONNX graph, each fallback method's layer table. It pickles without those, so a Ray
worker rebuilds them for itself. :func:`run_trial` never raises for a recipe that cannot run: the
trial comes back ``failed`` or ``unavailable`` with the reason, and the search goes on.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quantrack.errors import QuantrackError, first_line
from quantrack.core.evalset import EvalSet
from quantrack.recipe_search.recipe import Recipe

OK, FAILED, UNAVAILABLE = "ok", "failed", "unavailable"
TIMING_BATCH = 1  # latency is judged at batch 1: what an online service sees, and what the issue asks


@dataclass
class TrialResult:
    """What one recipe did on the selection rows. ``drop`` = fp32's score minus this one's (positive: worse)."""

    id: int
    recipe: dict[str, Any]
    method: str
    label: str
    status: str = OK
    reason: str | None = None
    score: float | None = None  # on the selection rows
    drop: float | None = None
    drop_ci: list[float] | None = None  # paired interval at the search's confidence (None: no per-row scores)
    within_budget: bool = False  # on the selection rows, by Budget.within
    file_bytes: int | None = None
    payload_bytes: int | None = None
    params: int | None = None
    latency: dict[str, Any] | None = None  # evaluate.timing.Latency.to_dict at batch 1, side by side with fp32
    seconds: float = 0.0  # building, scoring and timing this trial
    seconds_to_quantize: float | None = None
    cached: bool = False
    float_layers: list[str] = field(default_factory=list)

    @property
    def p50_us(self) -> float | None:
        return None if self.latency is None else self.latency.get("p50_us")

    @property
    def speedup(self) -> float | None:
        return None if self.latency is None else self.latency.get("speedup")

    @property
    def verdict(self) -> str | None:
        return None if self.latency is None else self.latency.get("verdict")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialResult:
        known = {f for f in cls.__dataclass_fields__}
        missing = {"id", "recipe", "method", "label", "status"} - set(d)
        if missing:
            raise ValueError(f"a trial needs {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Setup:
    """Everything a trial needs; picklable (the shared pieces are rebuilt per process)."""

    model: Any  # a float torch module, or an evaluate.onnx_model.OnnxModel
    selection: EvalSet
    calibration: tuple[np.ndarray, ...] | None
    calibration_labels: np.ndarray | None
    metric: Callable | None
    model_kind: str | None
    threads: int = 1
    seed: int = 0
    confidence: float | None = 0.95
    eval_batch_size: int = 256
    latency_budget_s: float = 0.3
    timing_gate: Callable[[], contextlib.AbstractContextManager] | None = None
    fine_tune: dict[str, Any] = field(default_factory=dict)
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_shared": {}}

    @property
    def onnx_bytes(self) -> bytes | None:
        """The graph the user gave (an ONNX file), else None."""
        return getattr(self.model, "model_bytes", None)

    def float_model(self):
        from quantrack.methods.base import private_copy

        if "float" not in self._shared:
            self._shared["float"] = None if self.onnx_bytes is not None else private_copy(self.model)
        return self._shared["float"]

    def example(self) -> tuple[np.ndarray, ...]:
        return self.selection.take(slice(0, 2)).inputs

    def fp32(self):
        """The baseline variant and a Scorer of the selection rows against it (built once per process)."""
        if "fp32" not in self._shared:
            from quantrack.methods.scoring import Scorer
            from quantrack.methods import BASELINE, get_method

            variant = get_method(BASELINE).apply(self.context(None))
            scorer = Scorer(variant, self.selection, self.metric, self.eval_batch_size)
            self._shared["fp32"] = (variant, scorer, scorer.row_scores(scorer.base_outputs))
        return self._shared["fp32"]

    def exported(self) -> bytes | None:
        """The torch model exported to ONNX once, for every ONNX Runtime recipe (an export of a
        transformer takes seconds; each recipe would otherwise repeat it)."""
        if self.onnx_bytes is not None:
            return self.onnx_bytes
        if "exported" not in self._shared:
            from quantrack.methods import onnx_common as oc

            try:
                self._shared["exported"] = oc.export(self.float_model(), self.example())
            except Exception as e:  # the method itself will then export and report why it cannot
                self._shared["exported"] = None
                self._shared["export_error"] = first_line(e)
        return self._shared["exported"]

    def context(self, config, *, graph: bool = False, method: str = "fp32"):
        import dataclasses

        from quantrack.methods.base import QuantContext

        onnx = self.onnx_bytes if self.onnx_bytes is not None else (self.exported() if graph else None)
        given = dict(model=self.float_model(), onnx_model=onnx, example=self.example(), calibration=self.calibration,
                     labels=self.calibration_labels, model_kind=self.model_kind, seed=self.seed, threads=self.threads,
                     config=config, method=method, lr=float(self.fine_tune.get("lr", 0.01)),
                     batch_size=int(self.fine_tune.get("batch_size", 32)))
        # QAT's lr/batch_size and the method's name are fields on some versions of QuantContext only.
        known = {f.name for f in dataclasses.fields(QuantContext)}
        return QuantContext(**{k: v for k, v in given.items() if k in known})

    def layers(self, method: str):
        """The per-layer fallback table builder of ``method`` (evaluate.sensitivity.SEARCHABLE)."""
        key = f"layers:{method}"
        if key not in self._shared:
            import importlib

            from quantrack.evaluate.sensitivity import SEARCHABLE

            module, cls = SEARCHABLE[method]
            self._shared[key] = getattr(importlib.import_module(module), cls)(self.float_model(), self.example(),
                                                                              self.threads)
        return self._shared[key]


def build_variant(setup: Setup, recipe: Recipe, name: str):
    """The recipe's variant (raises: the caller turns it into a reason)."""
    import torch

    from quantrack.methods import get_method
    from quantrack.methods.base import MethodUnavailable, quiet_warnings

    method = get_method(recipe.method)
    reason = method.unavailable_reason(setup.model_kind)
    if reason:
        raise MethodUnavailable(reason)
    with quiet_warnings():
        torch.manual_seed(setup.seed)
        if recipe.float_layers:
            layers = setup.layers(recipe.method)
            unknown = [n for n in recipe.float_layers if n not in layers.params]
            if unknown:
                raise MethodUnavailable(f"the model has no {recipe.method} layer {unknown[0]!r}")
            variant = layers.mixed(list(recipe.float_layers), name)
        else:
            config = method.config.from_dict(recipe.config_dict(), method=recipe.method)
            variant = method.apply(setup.context(config, graph=method.onnx_graph, method=recipe.method))
    variant.name = name
    return variant


def run_trial(setup: Setup, recipe: Recipe, trial_id: int, keep: bool = False) -> tuple[TrialResult, Any]:
    """Build, save (for its size), score on the selection rows and time one recipe. Returns the
    result and, with ``keep``, the live variant (None otherwise or when it failed)."""
    from quantrack.methods.scoring import outputs_in_batches
    from quantrack.methods.base import MethodUnavailable

    started = time.perf_counter()
    result = TrialResult(id=trial_id, recipe=recipe.to_dict(), method=recipe.method, label=recipe.label(),
                         float_layers=list(recipe.float_layers))
    base, scorer, base_rows = setup.fp32()
    folder = Path(tempfile.mkdtemp(prefix="quantrack-trial-"))
    variant = None
    try:
        variant = build_variant(setup, recipe, _file_name(recipe, trial_id))
        result.seconds_to_quantize = round(time.perf_counter() - started, 4)
        result.file_bytes = variant.save(folder).stat().st_size
        result.payload_bytes, result.params = int(variant.payload_bytes), int(variant.params)
        outputs = outputs_in_batches(variant, setup.selection, setup.eval_batch_size)
        result.score = float(scorer.score(outputs))
        result.drop = float(scorer.base_score - result.score)
        rows = scorer.row_scores(outputs)
        if rows is not None and base_rows is not None and setup.confidence is not None:
            from quantrack.core.stats import paired_stats

            ci = paired_stats(base_rows, rows, confidence=setup.confidence, seed=setup.seed).drop_ci
            result.drop_ci = None if ci is None else [float(ci[0]), float(ci[1])]
        result.latency = time_beside(variant, base, setup).to_dict()
    except KeyboardInterrupt:
        raise
    except Exception as e:
        result.status = UNAVAILABLE if isinstance(e, (MethodUnavailable, ImportError)) else FAILED
        result.reason = reason_of(e, MethodUnavailable)
        variant = None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.seconds = round(time.perf_counter() - started, 4)
    return result, (variant if keep else None)


def time_beside(variant, base, setup: Setup):
    """Batch-1 latency of ``variant`` in alternating windows with fp32 (evaluate.timing.time_against)."""
    from quantrack.evaluate.timing import time_against

    x = setup.selection.take(slice(0, TIMING_BATCH)).inputs
    with contextlib.ExitStack() as stack:
        if setup.timing_gate is not None:
            stack.enter_context(setup.timing_gate())
        stack.enter_context(base.inference_context())
        stack.enter_context(variant.inference_context())
        return time_against(variant.runner(x), base.runner(x), threads=setup.threads, batch_size=TIMING_BATCH,
                            budget_s=setup.latency_budget_s)


def time_alone(base, setup: Setup):
    from quantrack.evaluate.timing import time_calls

    x = setup.selection.take(slice(0, TIMING_BATCH)).inputs
    with contextlib.ExitStack() as stack:
        if setup.timing_gate is not None:
            stack.enter_context(setup.timing_gate())
        stack.enter_context(base.inference_context())
        return time_calls(base.runner(x), threads=setup.threads, batch_size=TIMING_BATCH,
                          budget_s=setup.latency_budget_s, min_time_s=0.05)


def reason_of(e: BaseException, unavailable: type) -> str:
    if isinstance(e, unavailable):
        return first_line(e)
    if isinstance(e, ImportError):
        return f"cannot import its libraries: {first_line(e)}"
    if isinstance(e, QuantrackError):
        return first_line(e)
    return f"{type(e).__name__}: {first_line(e)}"


def _file_name(recipe: Recipe, trial_id: int) -> str:
    return f"t{trial_id:03d}-{recipe.method}"
