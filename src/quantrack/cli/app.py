"""Command line: the only module that imports typer/rich. Commands stay thin."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException


class _HelpFormatter(click.HelpFormatter):
    """Click's help layout, with option and command texts wrapped at spaces only: click breaks at
    hyphens too, cutting method names in two ("onnx-" / "fp32") where a reader copies them."""

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        import textwrap

        rows = list(rows)
        first_col = min(max((click.formatting.term_len(r[0]) for r in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if click.formatting.term_len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - click.formatting.term_len(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            width = max(self.width - first_col - 2, 10)
            lines = textwrap.wrap(second, width, break_on_hyphens=False, break_long_words=False) or [""]
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class _Context(click.Context):
    formatter_class = _HelpFormatter


class _Group(TyperGroup):
    context_class = _Context


class _Command(TyperCommand):
    context_class = _Context


app = typer.Typer(
    cls=_Group,
    name="quantrack",
    help="Train a model, track it in MLflow, quantize it every way, measure each variant honestly, "
         "and pick the one to ship.",
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich markup would swallow "[default: 100]" as a style tag.
    rich_markup_mode=None,
)

Opt = typer.Option
_VERBOSE_HELP = ("Also print the split, the statistics and latency rules, the CPU's flags and each variant's "
                 "full why-not-faster (the report always has them).")


def _show_version(value: bool) -> None:
    if value:
        from quantrack._version import __version__

        typer.echo(f"quantrack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, Opt("--version", help="Show the version and exit.", is_eager=True,
                                 callback=_show_version)] = False,
) -> None:
    """quantrack: should I quantize this model, how, and what does it cost me?"""


def _default(name: str) -> str:
    """'[default: X]' from RunConfig itself, so help never disagrees with the code."""
    from quantrack.config import RunConfig

    value = RunConfig.__dataclass_fields__[name].default
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    return f"[default: {value}]"


def _methods_help() -> str:
    from quantrack.methods import METHOD_NAMES, NAMED_ONLY  # names only: no torch

    return (f"Comma-separated quantization methods, or all: {', '.join(METHOD_NAMES)} (all leaves out "
            f"{', '.join(sorted(NAMED_ONLY))}: torch.compile takes minutes; name them). {_default('methods')}")


@app.command()
def run(
    config: Annotated[Optional[Path], Opt("--config", help="TOML file of options (see README); flags override it.")] = None,
    dataset: Annotated[Optional[str], Opt(help=f"digits, iris, wine, breast_cancer, mnist, or a .csv/.parquet path. {_default('dataset')}")] = None,
    target: Annotated[Optional[str], Opt(help="Label column of a CSV/Parquet file. [default: the last column]")] = None,
    impute: Annotated[Optional[str], Opt(help=f"none (refuse NaN/inf) or mean. {_default('impute')}")] = None,
    model: Annotated[Optional[str], Opt(help=f"logreg (the assignment's), mlp or cnn. {_default('model')}")] = None,
    hidden: Annotated[Optional[str], Opt(help=f"MLP layer sizes (--model mlp only). {_default('hidden')}")] = None,
    epochs: Annotated[Optional[int], Opt(help=f"Training epochs. {_default('epochs')}")] = None,
    lr: Annotated[Optional[float], Opt(help=f"SGD learning rate. {_default('lr')}")] = None,
    batch_size: Annotated[Optional[int], Opt(help=f"Mini-batch size. {_default('batch_size')}")] = None,
    seed: Annotated[Optional[int], Opt(help=f"Seed of the split, the shuffles and the weights. {_default('seed')}")] = None,
    val_size: Annotated[Optional[float], Opt(help=f"Share of the training rows held out to choose the checkpoint on. {_default('val_size')}")] = None,
    checkpoint_on: Annotated[Optional[str], Opt(help=f"Choose the checkpoint on val or test (the assignment's way, biased). {_default('checkpoint_on')}")] = None,
    methods: Annotated[Optional[str], Opt(help=_methods_help())] = None,
    max_accuracy_drop: Annotated[Optional[float], Opt(help=f"Accuracy budget in points below fp32. {_default('max_accuracy_drop')}")] = None,
    confidence: Annotated[Optional[float], Opt(help=f"Confidence of the intervals and the champion rule; 0 judges on point estimates. {_default('confidence')}")] = None,
    prefer: Annotated[Optional[str], Opt(help=f"What the champion optimizes within the budget: size or latency. {_default('prefer')}")] = None,
    threads: Annotated[Optional[int], Opt(help=f"Torch/ONNX Runtime threads for training and inference timing. {_default('threads')}")] = None,
    out: Annotated[Optional[str], Opt(help=f"Directory that receives a new folder per run. {_default('out')}")] = None,
    tracking_uri: Annotated[Optional[str], Opt(help="MLflow tracking URI. [default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db]")] = None,
    experiment: Annotated[Optional[str], Opt(help=f"MLflow experiment name. {_default('experiment')}")] = None,
    model_name: Annotated[Optional[str], Opt(help="Registered model name. [default: quantrack-<dataset>-<model>]")] = None,
    run_name: Annotated[Optional[str], Opt(help="MLflow run name. [default: MLflow's generated name]")] = None,
    register: Annotated[Optional[str], Opt(help="What to register: champion (this run's pick, as @challenger), all "
                                                "(every variant) or none. " + _default("register"))] = None,
    no_register: Annotated[bool, Opt("--no-register", help="Same as --register none.")] = False,
    promote: Annotated[Optional[bool], Opt("--promote", help="Move @champion to this run's pick even if it does not "
                                                             "beat the current one. [default: only if it beats it]")] = None,
    sensitivity_rows: Annotated[Optional[int], Opt(help=f"mixed-int8/onnx-mixed-int8: score each layer alone on this many training (calibration) rows, never test rows (0: all). {_default('sensitivity_rows')}")] = None,
    verbose: Annotated[bool, Opt("--verbose", help=_VERBOSE_HELP)] = False,
) -> None:
    """Train, track, quantize with every method, measure, and name the champion."""
    from quantrack.config import build_config, load_toml

    cfg = build_config(
        load_toml(config) if config is not None else None,
        dataset=dataset, target=target, impute=impute, model=model, hidden=hidden, epochs=epochs, lr=lr,
        batch_size=batch_size, seed=seed, methods=methods, max_accuracy_drop=max_accuracy_drop, prefer=prefer,
        val_size=val_size, checkpoint_on=checkpoint_on, confidence=confidence,
        threads=threads, out=out, tracking_uri=tracking_uri, experiment=experiment, model_name=model_name,
        run_name=run_name, register="none" if no_register else register, promote=promote, sensitivity_rows=sensitivity_rows,
    )
    from quantrack import pipeline
    from quantrack.cli.console import RichProgress, print_report

    with RichProgress() as progress:
        report = pipeline.run(cfg, progress)
    print_report(report, verbose=verbose)


Values = Optional[list[str]]


@app.command()
def sweep(
    config: Annotated[Optional[Path], Opt("--config", help="TOML file: options, and a [sweep] table of value lists.")] = None,
    dataset: Annotated[Optional[str], Opt(help="digits, iris, wine, breast_cancer, or a .csv/.parquet path.")] = None,
    target: Annotated[Optional[str], Opt(help="Label column of a CSV/Parquet file (default: the last).")] = None,
    impute: Annotated[Values, Opt(help="none or mean; several: none,mean.")] = None,
    model: Annotated[Values, Opt(help="logreg, mlp or cnn; several: logreg,mlp.")] = None,
    hidden: Annotated[Values, Opt(help="MLP layer sizes; repeat for several: --hidden 64,64 --hidden 256,256.")] = None,
    epochs: Annotated[Values, Opt(help="Training epochs; several: 20,50.")] = None,
    lr: Annotated[Values, Opt(help="SGD learning rates; several: 0.01,0.05.")] = None,
    batch_size: Annotated[Values, Opt(help="Mini-batch sizes; several: 16,32.")] = None,
    seed: Annotated[Values, Opt(help="Seeds; several: 0,1,2.")] = None,
    methods: Annotated[Values, Opt(help="Methods of one trial, comma-separated; repeat for several sets.")] = None,
    threads: Annotated[Values, Opt(help="Threads per trial (also its Ray CPUs); several: 1,2.")] = None,
    max_accuracy_drop: Annotated[Optional[float], Opt(help="Accuracy budget in points below the best fp32 [default: 1.0].")] = None,
    prefer: Annotated[Optional[str], Opt(help="What the champion optimizes within the budget: size or latency.")] = None,
    out: Annotated[Optional[str], Opt(help="Directory that receives the sweep's folder [default: runs].")] = None,
    tracking_uri: Annotated[Optional[str], Opt(help="MLflow tracking URI (else MLFLOW_TRACKING_URI, else ./mlflow.db).")] = None,
    experiment: Annotated[Optional[str], Opt(help="MLflow experiment name [default: quantrack].")] = None,
    model_name: Annotated[Optional[str], Opt(help="Registered model name of every trial's variants.")] = None,
    run_name: Annotated[Optional[str], Opt(help="Name of the sweep's parent MLflow run.")] = None,
    register: Annotated[Optional[bool], Opt("--register/--no-register",
                                            help="Register the variants and point 'champion' at the sweep's champion.")] = None,
    samples: Annotated[Optional[int], Opt(help="Random combinations to draw (with --search random/optuna: trials).")] = None,
    search: Annotated[Optional[str], Opt(help="grid (default; random when --samples is given), random or optuna.")] = None,
    max_concurrent: Annotated[Optional[int], Opt(help="Trials running at once [default: as many as Ray has CPUs].")] = None,
    ray_address: Annotated[Optional[str], Opt(help="HOST:PORT of a Ray head (`ray start --head`) [default: a local Ray].")] = None,
) -> None:
    """Run many configurations as Ray Tune trials, each tracked as a child MLflow run; rank them and name one champion."""
    from quantrack.sweep.options import sweep_inputs

    base, space, settings = sweep_inputs(
        config, fixed=dict(dataset=dataset, target=target, max_accuracy_drop=max_accuracy_drop, prefer=prefer, out=out,
                           tracking_uri=tracking_uri, experiment=experiment, model_name=model_name,
                           run_name=run_name, register=register),
        multi=dict(impute=impute, model=model, hidden=hidden, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                   methods=methods, threads=threads),
        settings=dict(samples=samples, search=search, max_concurrent=max_concurrent, ray_address=ray_address))
    from quantrack.cli.sweep_console import print_sweep, say
    from quantrack.sweep.runner import run_sweep

    try:
        result = run_sweep(base, space, say=say, **settings)
    except KeyboardInterrupt:
        _fail("interrupted; the unfinished trials and the sweep's parent run are marked KILLED", code=130)
    print_sweep(result)


@app.command()
def compare(
    model_file: Annotated[str, typer.Argument(metavar="MODEL.onnx", help="An ONNX model file (read as data: no code runs).")],
    dataset: Annotated[str, Opt(help="CSV/Parquet file of rows; features go to the model as they are, in file order.")],
    target: Annotated[Optional[str], Opt(help="Label column (default: the last); integers are output indices.")] = None,
    class_names: Annotated[Optional[str], Opt(help="Label names in the model's output order, e.g. a,b,c.")] = None,
    calibration: Annotated[Optional[str], Opt(help="CSV/Parquet rows for static int8 calibration (same columns).")] = None,
    calibration_rows: Annotated[int, Opt(help="Without --calibration: a seeded sample of this many dataset rows.")] = 256,
    methods: Annotated[str, Opt(help="Comma-separated methods, or all.")] = "all",
    max_accuracy_drop: Annotated[float, Opt(help="Accuracy budget in points below the given model.")] = 1.0,
    prefer: Annotated[str, Opt(help="What the champion optimizes within the budget: size or latency.")] = "size",
    threads: Annotated[int, Opt(help="ONNX Runtime threads for inference timing.")] = 1,
    seed: Annotated[int, Opt(help="Seed of the calibration sample.")] = 0,
    out: Annotated[str, Opt(help="Directory that receives a new folder per comparison.")] = "runs",
    tracking_uri: Annotated[Optional[str], Opt(help="MLflow tracking URI (else MLFLOW_TRACKING_URI, else ./mlflow.db).")] = None,
    experiment: Annotated[str, Opt(help="MLflow experiment name.")] = "quantrack",
    verbose: Annotated[bool, Opt("--verbose", help=_VERBOSE_HELP)] = False,
) -> None:
    """Measure an ONNX model and its ONNX Runtime int8 variants on your labelled rows; name the champion."""
    from quantrack import compare_onnx

    # A typo is refused before the console's and the measuring's imports (numpy, onnx, torch, MLflow).
    compare_onnx.check_options(model_file, dataset, methods, max_accuracy_drop / 100, prefer, threads,
                               calibration_rows, calibration)
    from quantrack.core.budget import Budget
    from quantrack.cli.console import RichProgress, print_report

    names = [c.strip() for c in class_names.split(",")] if class_names else None
    with RichProgress() as progress:
        report = compare_onnx.run(model_file, dataset, target=target, class_names=names, calibration=calibration,
                                  n_calibration=calibration_rows, methods=methods,
                                  budget=Budget.from_points(max_accuracy_drop, prefer=prefer), threads=threads, out=out,
                                  tracking_uri=tracking_uri, experiment=experiment, seed=seed, progress=progress)
    print_report(report, verbose=verbose)
    typer.echo(f"calibration: {report.config['calibration_source']}")
    tried = [v for v in report.variants[1:] if not (v.reason or "").startswith("does not apply")]
    if tried and not any(v.available for v in tried):
        from quantrack.errors import QuantrackError

        first = next(v for v in tried)
        raise QuantrackError(f"every quantized method failed ({len(tried)}; first, {first.name}: {first.reason}); "
                             f"the report is in {report.out_dir}")


@app.command("compare-lm")
def compare_lm(
    folder: Annotated[str, typer.Argument(metavar="FOLDER", help="A transformers model folder (config.json + .safetensors) or one holding a .gguf file; read as data, no code runs.")],
    text: Annotated[list[str], Opt("--text", help="UTF-8 text file for perplexity; 'pydoc' for CPython's own pydoc topics. Repeat for several (joined with a blank line).")],
    gguf_file: Annotated[Optional[str], Opt(help="The GGUF file inside FOLDER [default: the only one there].")] = None,
    calibration_text: Annotated[Optional[list[str]], Opt("--calibration-text", help="Text file (or 'pydoc') that mixed-blocks ranks the blocks on, other than --text: the evaluated text never chooses. Repeat for several [default: none; mixed-blocks then does not run].")] = None,
    methods: Annotated[str, Opt(help="Comma-separated LM methods, or all (see `quantrack.lm.methods`).")] = "all",
    max_increase_pct: Annotated[float, Opt(help="Champion budget: perplexity increase over fp32, in %, by its paired 95 % interval.")] = 2.0,
    prefer: Annotated[str, Opt(help="What the champion optimizes within the budget: size or speed.")] = "size",
    context: Annotated[int, Opt(help="Tokens per window (stride = context).")] = 512,
    windows: Annotated[Optional[int], Opt(help="Score at most this many windows [default: all].")] = None,
    prompt: Annotated[Optional[list[str]], Opt("--prompt", help="Prompt for the generation check and timing; repeat for several [default: the start of a few windows].")] = None,
    max_new_tokens: Annotated[int, Opt(help="Greedy tokens generated per prompt.")] = 32,
    threads: Annotated[int, Opt(help="Torch threads for scoring and timing.")] = 1,
    latency_budget: Annotated[float, Opt(help="Seconds at most of side-by-side timing per variant, for prefill and again for decode.")] = 2.0,
    out: Annotated[Optional[str], Opt(help="Folder for report.json and report.md [default: none written].")] = None,
    tracking_uri: Annotated[Optional[str], Opt(help="Track the comparison in this MLflow store (a run, a child run per variant) [default: not tracked].")] = None,
    experiment: Annotated[str, Opt(help="MLflow experiment name.")] = "quantrack",
    register: Annotated[str, Opt(help="champion: register the champion (as @challenger; @champion by the same rules as `quantrack run`) in the --tracking-uri store, to `quantrack serve`; none: do not (each version holds the whole fp32 checkpoint).")] = "none",
    model_name: Annotated[Optional[str], Opt(help="Registered model name. [default: quantrack-lm-<GGUF file or folder name>]")] = None,
    promote: Annotated[bool, Opt("--promote", help="Move @champion to this run's champion even if it does not beat the current one.")] = False,
) -> None:
    """Measure a causal language model and its quantized variants: perplexity, tokens/s, memory; name the champion."""
    from quantrack.cli.lm_console import print_lm_report
    from quantrack.lm.corpus import texts_from
    from quantrack.lm.loading import resolve

    texts = texts_from(text)  # refused before anything heavy is loaded
    calibration = texts_from(calibration_text) if calibration_text else None
    source = resolve(folder, gguf_file)
    from quantrack.lm.registry import check_register

    check_register(register, tracking_uri, model_name)
    from quantrack.cli.console import RichProgress
    from quantrack.lm.compare import compare_lm as run_compare
    from quantrack.lm.loading import load_causal_lm
    from quantrack.lm.report import Q4_1_CAVEAT

    with RichProgress() as progress:
        progress.stage("loading the model")
        model, tokenizer, source = load_causal_lm(folder, gguf_file)
        caveat = Q4_1_CAVEAT if source.gguf_file and "q4_1" in source.gguf_file.lower() else (
            "fp32 is the GGUF file's weights dequantized to float32: they carry its own rounding"
            if source.gguf_file else None)
        report = run_compare(model, tokenizer, texts, calibration_texts=calibration, methods=methods,
                             max_increase=max_increase_pct / 100,
                             prefer=prefer, prompts=prompt, max_new_tokens=max_new_tokens, context=context,
                             max_windows=windows, threads=threads, out=out, tracking=tracking_uri,
                             experiment=experiment, source=source.text(), caveat=caveat, progress=progress,
                             register=register, model_name=model_name, promote=promote,
                             latency_budget_s=latency_budget)
    print_lm_report(report)


@app.command()
def search(
    model_file: Annotated[Optional[str], typer.Argument(metavar="[MODEL.onnx]", help="An ONNX model file (read as data: no code runs); without it, --model is trained on --dataset first, as `quantrack run` does.")] = None,
    dataset: Annotated[Optional[str], Opt(help="With MODEL.onnx: a CSV/Parquet file of rows. Without: digits, iris, wine, breast_cancer, mnist, or a .csv/.parquet path.")] = None,
    target: Annotated[Optional[str], Opt(help="Label column of a CSV/Parquet file (default: the last).")] = None,
    class_names: Annotated[Optional[str], Opt(help="MODEL.onnx: label names in the model's output order, e.g. a,b,c.")] = None,
    calibration: Annotated[Optional[str], Opt(help="MODEL.onnx: CSV/Parquet rows for static int8 calibration (same columns).")] = None,
    calibration_rows: Annotated[int, Opt(help="MODEL.onnx without --calibration: a seeded sample of this many dataset rows.")] = 256,
    model: Annotated[Optional[str], Opt(help="Without MODEL.onnx: logreg, mlp or cnn, trained first. [default: mlp]")] = None,
    hidden: Annotated[Optional[str], Opt(help="MLP layer sizes (--model mlp only). [default: 1024,1024]")] = None,
    epochs: Annotated[Optional[int], Opt(help="Training epochs. [default: 100]")] = None,
    lr: Annotated[Optional[float], Opt(help="SGD learning rate. [default: 0.01]")] = None,
    methods: Annotated[str, Opt(help="Comma-separated methods to search, or all (mixed-int8/onnx-mixed-int8 are the search's per-layer fallback, not methods of it).")] = "all",
    max_accuracy_drop: Annotated[float, Opt(help="Accuracy budget in points below fp32.")] = 1.0,
    confidence: Annotated[float, Opt(help="Confidence of the paired interval the champion must be within budget by; 0 judges on point estimates.")] = 0.95,
    objective: Annotated[str, Opt(help="What the champion optimizes within the budget: latency (batch 1) or size.")] = "latency",
    time_budget: Annotated[float, Opt(help="Seconds; no trial starts after it (running ones finish).")] = 900.0,
    max_trials: Annotated[int, Opt(help="Recipes tried at most (cached ones count).")] = 200,
    held_out: Annotated[float, Opt(help="Share of the evaluation rows kept to judge the finalists (stratified, seeded).")] = 0.5,
    workers: Annotated[int, Opt(help="Trials at once (more than 1 runs them as Ray tasks on a local Ray).")] = 1,
    threads: Annotated[int, Opt(help="Torch/ONNX Runtime threads per trial.")] = 1,
    seed: Annotated[int, Opt(help="Seed of the split, the calibration sample and training.")] = 0,
    cache: Annotated[Optional[str], Opt(help="A folder of finished trials: run again with it and they are not redone.")] = None,
    out: Annotated[str, Opt(help="Directory that receives a new folder per search.")] = "runs",
    tracking_uri: Annotated[Optional[str], Opt(help="MLflow tracking URI (else MLFLOW_TRACKING_URI, else ./mlflow.db).")] = None,
    no_tracking: Annotated[bool, Opt("--no-tracking", help="Do not log to MLflow.")] = False,
    experiment: Annotated[str, Opt(help="MLflow experiment name.")] = "quantrack",
    ray_address: Annotated[Optional[str], Opt(help="HOST:PORT of a Ray head (`ray start --head`): trials run as Ray tasks there.")] = None,
) -> None:
    """Search each method's knobs and per-layer float fallback for the best recipe on --objective within the budget, judged on held-out rows."""
    import time as _time

    from quantrack.cli.console import RichProgress, print_report
    from quantrack.core.budget import Budget
    from quantrack.errors import QuantrackError

    if dataset is None:
        raise QuantrackError("--dataset is required: the rows the search scores (with MODEL.onnx: a CSV/Parquet file)")
    budget = Budget.from_points(max_accuracy_drop, confidence=confidence or None, prefer="size")
    chosen = [m.strip() for m in methods.split(",") if m.strip()] or ["all"]
    from quantrack.recipe_search.api import check_options

    # A wrong option is one line before any data is read or model trained.
    check_options(methods=chosen, objective=objective, time_budget_s=time_budget, max_trials=max_trials,
                  workers=workers, threads=threads, held_out=held_out, cache=cache, out=out, ray_address=ray_address)
    if model_file is not None and any(v is not None for v in (model, hidden, epochs, lr)):
        raise QuantrackError("--model/--hidden/--epochs/--lr train a model; with MODEL.onnx there is nothing to train")
    if model_file is None and any(v is not None for v in (class_names, calibration)):
        raise QuantrackError("--class-names/--calibration apply to MODEL.onnx; a trained model calibrates on its "
                             "training rows")
    from quantrack.recipe_search import inputs as search_inputs

    with RichProgress() as progress:
        if model_file is not None:
            given = search_inputs.from_onnx_file(model_file, dataset, target=target,
                                                 class_names=[c.strip() for c in class_names.split(",")]
                                                 if class_names else None, calibration=calibration,
                                                 n_calibration=calibration_rows, seed=seed)
        else:
            from quantrack.config import build_config

            cfg = build_config(None, dataset=dataset, target=target, model=model or "mlp", hidden=hidden,
                               epochs=epochs, lr=lr, seed=seed, threads=threads)
            given = search_inputs.from_training(cfg, progress)
        from quantrack.recipe_search.api import search as run_search

        folder = Path(out) / f"{_time.strftime('%Y%m%d-%H%M%S')}-{given.name}-search"
        report = run_search(given.model, calibration=given.calibration, eval_data=given.eval_data,
                            max_drop=budget.max_drop, confidence=budget.confidence, objective=objective,
                            time_budget_s=time_budget, max_trials=max_trials, methods=chosen, workers=workers,
                            cache=cache, tracking=None if no_tracking else (tracking_uri or True), out=folder,
                            ray_address=ray_address, seed=seed, held_out=held_out, threads=threads,
                            experiment=experiment, model_kind=given.model_kind, progress=progress)
    print_report(report)
    s = report.search
    typer.echo(f"search: {len(s['trials'])} trials ({s['cache']['hits'] if s.get('cache') else 0} cached) in "
               f"{s['seconds']:.1f} s, stopped: {s['stopped_because']}; {s['selection_rows']} rows chose, "
               f"{s['held_out_rows']} judged; Pareto front: trials {', '.join(map(str, s['pareto'])) or 'none'}; "
               f"report: {folder}")
    if s["stopped_because"] == "interrupted":
        _fail(f"interrupted; the best so far is written to {folder}", code=130)


@app.command()
def serve(
    model_uri: Annotated[str, Opt("--model-uri", help="What to serve, e.g. models:/quantrack-digits-logreg@champion.")],
    port: Annotated[int, Opt(help="Port to listen on.")] = 5001,
    host: Annotated[str, Opt(help="Interface to bind; 0.0.0.0 exposes the model to the network.")] = "127.0.0.1",
    workers: Annotated[int, Opt(help="Server worker processes.")] = 1,
    tracking_uri: Annotated[Optional[str], Opt(help="Registry to resolve models:/ URIs (else MLFLOW_TRACKING_URI, else ./mlflow.db).")] = None,
) -> None:
    """Serve a registered variant over HTTP (POST /invocations) with MLflow's scoring server."""
    from quantrack.mlflow_models.serving import serve as run_server

    code = run_server(model_uri, port, host=host, tracking_uri=tracking_uri, workers=workers)
    raise typer.Exit(code)


@app.command()
def sync(
    out: Annotated[str, Opt(help="The --out folder of the runs whose spool to upload.")] = "runs",
    tracking_uri: Annotated[Optional[str], Opt(help="Upload there instead of each run's own tracking URI.")] = None,
) -> None:
    """Upload runs spooled while the tracking server was unreachable, exactly once."""
    from quantrack.tracking.sync import sync as sync_spool

    sync_spool(Path(out) / "spool", tracking_uri, say=lambda line: typer.echo(f"quantrack: {line}", err=True))


@app.command()
def promote(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered model name, e.g. quantrack-digits-logreg.")],
    version: Annotated[int, typer.Argument(metavar="VERSION", help="The version to point @champion at.", min=1)],
    tracking_uri: Annotated[Optional[str], Opt(help="Registry (else MLFLOW_TRACKING_URI, else ./mlflow.db).")] = None,
) -> None:
    """Point the 'champion' alias at a version on purpose (a run moves it only when its pick is better)."""
    from quantrack.mlflow_models.promotion import promote as move_champion
    from quantrack.tracking.tracker import Tracker

    tracker = Tracker(tracking_uri, "quantrack")  # for its bounded, checked client; no run is started
    tracker.check()
    typer.echo(move_champion(tracker.client, name, str(version)))


# `quantrack --help` lists each command with its whole first sentence (click would cut it at ~45
# characters with "..."), and every command's help wraps at spaces only (_HelpFormatter).
for _info in app.registered_commands:
    _info.cls = _Command
    if _info.short_help is None and _info.callback is not None and _info.callback.__doc__:
        _info.short_help = " ".join(_info.callback.__doc__.strip().split("\n\n")[0].split())


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    from quantrack.errors import QuantrackError

    # MLflow sends usage telemetry to its vendor's servers unless told not to. quantrack talks
    # to the tracking server you name and to nothing else; MLFLOW_DISABLE_TELEMETRY=false opts
    # back in. Set here, for this one-shot process only: importing quantrack changes nothing.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    args = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    previous = _terminate_like_ctrl_c()
    try:
        code = app(args=args, prog_name="quantrack", standalone_mode=False)
    except QuantrackError as e:
        _fail(str(e), code=getattr(e, "exit_code", 2))
    except TyperException as e:  # usage errors: unknown option, a value of the wrong type
        _fail(e.format_message())
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted; the MLflow run, if one had started, is marked FAILED", code=130)
    except (typer.Exit, click.exceptions.Exit) as e:
        sys.exit(e.exit_code)
    except Exception as e:  # a bug, or a library failing in a way we did not foresee
        from quantrack.errors import disk_full

        full = disk_full(e)  # not a bug: the environment, in one line, exit 2
        if full and not os.environ.get("QUANTRACK_DEBUG"):
            _fail(full)
        if os.environ.get("QUANTRACK_DEBUG"):
            raise
        from quantrack.errors import first_line
        from quantrack.mlflow_models.connection import redact

        _fail(f"unexpected {type(e).__name__}: {redact(first_line(e))} (set QUANTRACK_DEBUG=1 for the traceback)",
              code=1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if code == 130:  # typer turns Ctrl-C into a silent return code
        _fail("interrupted; the MLflow run, if one had started, is marked FAILED", code=130)
    sys.exit(code if isinstance(code, int) else 0)


def _terminate_like_ctrl_c():
    """SIGTERM (a CI timeout, `kill`) ends a run like Ctrl-C: the MLflow run is marked FAILED."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _fail(message: str, code: int = 2) -> None:
    line = " ".join(str(message).split())  # exactly one line
    print(f"quantrack: error: {line}", file=sys.stderr)
    sys.exit(code)


def entry() -> None:
    """The installed command and ``python -m quantrack``: main(), then a quick exit.

    Tearing down an interpreter that has loaded torch, MLflow, SQLAlchemy and matplotlib
    takes ~1.4 s here after the work is done (measured: benchmarks/). We run the atexit
    handlers (logging, MLflow's and tempfile's clean-ups), flush stdout and stderr, and
    leave with ``os._exit``: the OS reclaims the memory. Tests call main() and keep the
    ordinary exit.
    """
    import atexit
    import os

    try:
        main()
        code: object = 0
    except SystemExit as e:
        code = e.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to deliver
            pass
    os._exit(code or 0)
