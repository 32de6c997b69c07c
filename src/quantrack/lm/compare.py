"""``quantrack.compare_lm``: every LM method on *your* causal LM, measured against fp32, and the one to ship.

For fp32 (the model as given) and each method (a copy): perplexity on the same token windows with
its interval and the paired interval of the increase, top-1 next-token agreement, the greedy
generation check, prefill and decode timed side by side with fp32, weight bytes and peak memory.
Then the champion (champion.py). The user's model is never modified, and process-wide settings
(threads, grad mode, RNG, warnings, environment) are restored before returning.
"""

from __future__ import annotations

import contextlib
import gc
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quantrack.core.method_config import MethodConfig
from quantrack.errors import QuantrackError, first_line
from quantrack.lm import cost
from quantrack.lm.report import LMReport

PROMPTS = 4  # default prompts for the generation check: enough to see a divergence, cheap at 135M
PROMPT_TOKENS = 32  # each default prompt: the first 32 tokens of an evenly spaced window
CONFIDENCE = 0.95


class _Silent:
    def stage(self, text: str) -> None:
        pass

    def notice(self, text: str) -> None:
        pass


def compare_lm(model: Any, tokenizer: Any, texts: str | Sequence[str], *, calibration_texts: Sequence[str] | None = None,
               methods: str | Sequence[str] = "all", max_increase: float = 0.02, prefer: str = "size",
               prompts: Sequence[str] | None = None, max_new_tokens: int = 32, context: int = 512,
               threads: int = 1, tracking: bool | str | None = None, out: str | Path | None = None,
               configs: dict[str, MethodConfig] | None = None, max_windows: int | None = None,
               check_tokens: int | None = None, experiment: str = "quantrack", source: str | None = None,
               caveat: str | None = None, progress: Any = None, register: str = "none",
               model_name: str | None = None, promote: bool = False,
               latency_budget_s: float = cost.LATENCY_BUDGET_S) -> LMReport:
    """Quantize a causal LM every way asked, measure each variant against fp32, choose the one to ship.

    model: a transformers causal LM in float32 (never modified); tokenizer: its tokenizer. texts: the
    perplexity corpus (a string or a list, joined with a blank line). calibration_texts: texts other than
    ``texts`` that mixed-blocks ranks the blocks on (without them it is unavailable: the evaluated
    windows never choose what a variant keeps in float).
    methods: "all" or names from ``quantrack.lm.methods.LM_METHOD_NAMES``. max_increase: the champion
    budget, a relative perplexity increase (0.02 = 2 %), judged on the upper end of its paired 95 %
    interval. prefer: "size" (fewest weight bytes) or "speed" (fastest decode, measured faster only).
    prompts: for the generation check and timing (None: the first tokens of a few windows).
    max_new_tokens: tokens generated per prompt; check_tokens: how many of them must equal fp32's
    (default: all). context: tokens per window (stride = context). max_windows: at most this many
    windows. configs: {method: its config}. tracking: None, True (default store) or a URI; out: a folder.
    register: "champion" registers the champion in the tracking store's model registry as
    ``model_name`` (default quantrack-lm-<source stem>), @challenger, and @champion by the same rules
    as ``quantrack run`` (``promote``: move @champion anyway); "none" (the default: each version holds
    the whole fp32 checkpoint, so it is asked for). ``quantrack serve --model-uri
    models:/<name>@champion`` then answers {"prompt", "max_new_tokens"} rows with generated text.
    latency_budget_s: seconds at most of side-by-side timing per variant, for prefill and again for decode.
    """
    from quantrack.lm import methods as registry
    from quantrack.lm.champion import budget_for

    progress = progress or _Silent()
    if not (callable(getattr(model, "forward", None)) and callable(getattr(model, "generate", None))):
        raise QuantrackError(f"model must be a transformers causal LM (with forward and generate), got "
                             f"{type(model).__name__}")
    if not callable(tokenizer):
        raise QuantrackError(f"tokenizer must be a transformers tokenizer, got {type(tokenizer).__name__}")
    names = registry.chosen(methods)
    budget = budget_for(max_increase, prefer, CONFIDENCE)
    for label, value in (("max_new_tokens", max_new_tokens), ("threads", threads)):
        if isinstance(value, bool) or not (isinstance(value, int) and value >= 1):
            raise QuantrackError(f"{label} must be a positive integer, got {value!r}")
    check = max_new_tokens if check_tokens is None else check_tokens
    if isinstance(check, bool) or not (isinstance(check, int) and 1 <= check <= max_new_tokens):
        raise QuantrackError(f"check_tokens must be between 1 and max_new_tokens ({max_new_tokens}), got {check!r}")
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(context, int) and limit and context > limit:
        raise QuantrackError(f"context {context} is longer than the model's {limit} positions")
    if isinstance(latency_budget_s, bool) or not (isinstance(latency_budget_s, (int, float)) and latency_budget_s > 0):
        raise QuantrackError(f"latency_budget_s must be a positive number of seconds, got {latency_budget_s!r}")
    if max_windows is not None and not (isinstance(max_windows, int) and max_windows >= 1):
        raise QuantrackError(f"max_windows must be a positive integer, got {max_windows!r}")
    if not (tracking is None or isinstance(tracking, (bool, str))):
        raise QuantrackError("tracking must be None, True or a tracking URI")
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise QuantrackError(f"out must be a folder; {out} is a file")
    configs = _check_configs(configs or {}, names)
    from quantrack.lm.registry import check_register, default_model_name

    check_register(register, tracking, model_name)
    name = model_name or default_model_name(source, model)
    from quantrack.lm.corpus import make_windows, token_ids

    windows = make_windows(tokenizer, texts, context, max_windows=max_windows)
    calib = None if calibration_texts is None else make_windows(tokenizer, calibration_texts, context,
                                                                 what="calibration_texts")
    prompt_ids = _prompts(tokenizer, prompts, windows.ids, token_ids)

    from quantrack.evaluate.compare import environment
    from quantrack.evaluate.process_state import preserved_process_state

    with preserved_process_state(threads):
        env = environment(threads)
        tables: dict[str, Any] = {}
        held_out = None if calib is None else _held_out(calib.ids, windows.ids)
        variants = _measure(model, names, configs, windows.ids, prompt_ids, max_new_tokens, check, threads, progress,
                            held_out, tables, latency_budget_s)
        from quantrack.lm.champion import choose

        champion = choose(variants, budget)
        report = LMReport(
            variants=variants, champion=champion.name, champion_reason=champion.reason, champion_rule=champion.rule,
            score_name="perplexity", max_drop=budget.max_drop, prefer=prefer, environment=env, batch_sizes=[1],
            budget=budget.to_dict(),
            config={"methods": ",".join(names), "max_increase": budget.max_drop, "prefer": prefer,
                    "confidence": CONFIDENCE, "context": context, "stride": windows.spec.stride,
                    "windows": windows.spec.windows, "tokens_scored": windows.spec.tokens_scored,
                    "max_new_tokens": max_new_tokens, "check_tokens": check, "prompts": len(prompt_ids),
                    "threads": threads, "latency_budget_s": latency_budget_s, "metric": "perplexity",
                    "calibration_tokens": None if calib is None else calib.spec.tokens,
                    **({"source": source} if source else {})},
            model_summary={"class": type(model).__name__, "params": sum(p.numel() for p in model.parameters())},
            windows=windows.spec, source=source, caveat=caveat, prompts=len(prompt_ids), check_tokens=check,
            prompt_tokens=int(len(prompt_ids[0])),
            sensitivity={k: list(t) for k, t in tables.items()},
            sensitivity_cost={k: {**t.cost(), "method": t.method, "fp32_perplexity": round(t.fp32_perplexity, 4),
                                  "tokens_scored": t.tokens_scored, "windows_from": "calibration_texts",
                                  "calibration_windows_dropped": 0 if held_out is None else
                                  int(len(calib.ids) - len(held_out))}
                              for k, t in tables.items()})
        if out is not None:
            report.out_dir = str(Path(out))
            report.save(out)
        if tracking:
            from quantrack.lm.registry import Registration, fingerprint

            registration = None if register == "none" else Registration(name, bool(promote),
                                                                        fingerprint(windows.spec, windows.ids))
            _track(report, tracking, experiment, out, registration, (model, tokenizer), progress)
    return report


def _held_out(calibration: np.ndarray, evaluated: np.ndarray) -> np.ndarray | None:
    """The calibration windows that are not also evaluated windows (None if none is left): what
    chooses a variant's float blocks must not be what judges it."""
    seen = {row.tobytes() for row in evaluated}
    keep = [row for row in calibration if row.tobytes() not in seen]
    return np.stack(keep) if keep else None


def _check_configs(configs: dict[str, MethodConfig], names: list[str]) -> dict[str, MethodConfig]:
    from quantrack.lm.methods import get_lm_method

    if not isinstance(configs, dict):
        raise QuantrackError("configs must be a dict {method name: its config}")
    for name, cfg in configs.items():
        method = get_lm_method(name)
        if name not in names:
            raise QuantrackError(f"configs names {name!r}, which is not among the methods asked for")
        if type(cfg) is not method.config:
            raise QuantrackError(f"{name} takes a {method.config.__name__}, got {type(cfg).__name__}")
    return configs


def _prompts(tokenizer, prompts, ids: np.ndarray, token_ids) -> list[np.ndarray]:
    if prompts is None:
        n = min(PROMPTS, len(ids))
        take = min(PROMPT_TOKENS, ids.shape[1])
        return [ids[i, :take].copy() for i in np.linspace(0, len(ids) - 1, n).round().astype(int)]
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise QuantrackError("prompts must be a non-empty list of non-empty strings")
    out = [token_ids(tokenizer, [p]) for p in prompts]
    if any(len(p) == 0 for p in out):
        raise QuantrackError("a prompt encodes to no tokens")
    return out


def _measure(model, names, configs, ids, prompt_ids, max_new_tokens, check, threads, progress, calibration=None,
             tables=None, latency_budget_s=cost.LATENCY_BUDGET_S):
    """Each method built, scored and timed; a calibrated method's sensitivity table goes to ``tables``."""
    from quantrack.lm.generation import generate, match_share
    from quantrack.lm.methods import BASELINE, LMMethodUnavailable, get_lm_method
    from quantrack.lm.perplexity import agreement, perplexity_stats, score_windows
    from quantrack.lm.results import LMVariantResult
    from quantrack.methods.base import quiet_warnings

    model.eval()
    params = sum(p.numel() for p in model.parameters())
    results = []
    base_scores = base_gen = None
    for name in names:
        method = get_lm_method(name)
        reason = method.unavailable_reason()
        if reason:
            results.append(LMVariantResult(name, available=False, reason=reason))
            continue
        progress.stage(f"quantizing and measuring {name}")
        cfg = configs.get(name, method.config())
        variant = None
        try:
            with quiet_warnings(), cost.peak_memory() as memory:
                t0 = time.perf_counter()
                variant = method.build(model, cfg, calibration=calibration, progress=progress) if method.calibrated \
                    else method.build(model, cfg)
                produce_s = time.perf_counter() - t0
                table = getattr(variant, "quantrack_sensitivity", None)
                if table is not None and tables is not None:
                    tables[name] = table
                scores = score_windows(variant, ids)
                gen = generate(variant, prompt_ids, max_new_tokens)
                prefill, decode = cost.time_cost(variant, None if name == BASELINE else model, prompt_ids[0],
                                                 threads=threads, budget_s=latency_budget_s)
                weights = cost.weight_bytes(variant)
                runtime = getattr(variant, "runtime", None)  # what ran it, when not torch eager (OpenVINO)
        except LMMethodUnavailable as e:
            results.append(LMVariantResult(name, available=False, reason=first_line(e)))
            continue
        except ImportError as e:
            results.append(LMVariantResult(name, available=False, reason=f"cannot import its libraries: {first_line(e)}"))
            continue
        except QuantrackError:
            raise
        except Exception as e:
            results.append(LMVariantResult(name, available=False, reason=f"failed: {type(e).__name__}: {first_line(e)}"))
            continue
        finally:
            if variant is not model:
                del variant
            gc.collect()
        if name == BASELINE:
            base_scores, base_gen = scores, gen
        stats = perplexity_stats(base_scores, None if name == BASELINE else scores, confidence=CONFIDENCE)
        results.append(LMVariantResult(
            name, score=scores.perplexity, stats=stats, params=params, weight_bytes=weights, payload_bytes=weights,
            agreement=1.0 if name == BASELINE else agreement(scores, base_scores),
            generation_match=1.0 if name == BASELINE else match_share(gen, base_gen, check),
            prefill=prefill, decode=decode, latency=[decode], memory=memory[0],
            seconds_to_quantize=round(produce_s, 3), generate_seconds=round(gen.seconds, 3), config=cfg.to_dict(),
            runtime=runtime))
        progress.stage(f"{name}: perplexity {scores.perplexity:.3f}, {1e6 / decode.p50_us:.1f} tokens/s, "
                       f"{weights / 1e6:.1f} MB of weights")
    base = results[0]
    if not base.available:
        raise QuantrackError(f"fp32 could not be measured: {base.reason}")
    for v in results[1:]:
        if v.available and base.weight_bytes:
            v.payload_ratio = round(v.weight_bytes / base.weight_bytes, 4)
    if not math.isfinite(base.score or float("nan")):
        raise QuantrackError(f"fp32 perplexity is {base.score}: the model's outputs are not finite on these texts")
    return results


def _track(report: LMReport, tracking: bool | str, experiment: str, out, registration: Any = None,
           model_and_tokenizer: tuple[Any, Any] | None = None, progress: Any = None) -> None:
    """One MLflow run with the options and a child run per variant (perplexity, tokens/s, memory...);
    with a :class:`~quantrack.lm.registry.Registration`, the champion packaged into the run and
    registered, last (as ``quantrack run`` does)."""
    import os

    from quantrack.tracking.tracker import Tracker

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # restored when compare_lm returns
    tracker = Tracker(None if tracking is True else tracking, experiment)
    tracker.check()
    tracker.start(None, report.config, tags={"quantrack.kind": "compare-lm"})
    try:
        from quantrack.tracking.report_run import log_files, log_results

        log_results(tracker, report)  # a child run per variant, the champion and CPU tags (as compare does)
        with contextlib.ExitStack() as stack:
            folder = Path(out) if out is not None else Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="quantrack-report-")))
            files = report.save(folder) if out is None else [folder / "report.json", folder / "report.md"]
            log_files(tracker, folder, files)
        if registration is not None:
            _register(report, tracker, registration, *model_and_tokenizer, progress or _Silent())
        tracker.end("FINISHED")
    except BaseException:
        problem = tracker.unregister()  # versions this run created are deleted, aliases put back
        if problem and progress is not None:
            progress.notice(problem)
        tracker.fail()
        raise
    report.mlflow = {**tracker.info, **{k: v for k, v in report.mlflow.items() if k in ("model_versions", "aliases")}}


def _register(report: LMReport, tracker, registration, model, tokenizer, progress) -> None:
    """Package the champion (the fp32 checkpoint, its method and config), upload it, register it."""
    from quantrack.lm.registry import PYFUNC_DIR, package

    progress.stage(f"packaging {report.champion} for the registry")
    with tempfile.TemporaryDirectory(prefix="quantrack-pyfunc-") as d:
        intent = package(report, model, tokenizer, Path(d), registration)
        tracker.log_artifacts(Path(d), PYFUNC_DIR)
    progress.stage(f"registering {report.champion} as {registration.name}")
    versions = tracker.register(intent)
    report.registered_model = registration.name
    report.mlflow.update(model_versions=versions, aliases=tracker.aliases)
