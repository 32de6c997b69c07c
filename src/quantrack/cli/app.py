"""Command line: the only module that imports typer/rich. Commands stay thin."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.exceptions import TyperException

app = typer.Typer(
    name="quantrack",
    help="Train a model, track it in MLflow, quantize it every way, measure each variant honestly, "
         "and pick the one to ship.",
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich markup would swallow "[default: 100]" as a style tag.
    rich_markup_mode=None,
)

Opt = typer.Option


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


@app.command()
def run(
    config: Annotated[Optional[Path], Opt("--config", help="TOML file of options; flags override it.")] = None,
    dataset: Annotated[Optional[str], Opt(help="digits, iris, wine, breast_cancer, or a .csv/.parquet path.")] = None,
    target: Annotated[Optional[str], Opt(help="Label column of a CSV/Parquet file (default: the last).")] = None,
    impute: Annotated[Optional[str], Opt(help="none (refuse NaN/inf) or mean.")] = None,
    model: Annotated[Optional[str], Opt(help="logreg (the assignment's), mlp or cnn.")] = None,
    hidden: Annotated[Optional[str], Opt(help="MLP layer sizes, e.g. 1024,1024.")] = None,
    epochs: Annotated[Optional[int], Opt(help="Training epochs [default: 100].")] = None,
    lr: Annotated[Optional[float], Opt(help="SGD learning rate [default: 0.01].")] = None,
    batch_size: Annotated[Optional[int], Opt(help="Mini-batch size [default: 32].")] = None,
    seed: Annotated[Optional[int], Opt(help="Seed of the split, the shuffles and the weights [default: 42].")] = None,
    val_size: Annotated[Optional[float], Opt(help="Share of the training rows held out to choose the checkpoint on [default: 0.1].")] = None,
    checkpoint_on: Annotated[Optional[str], Opt(help="Choose the checkpoint on val (default) or test (the assignment's way, biased).")] = None,
    methods: Annotated[Optional[str], Opt(help="Comma-separated quantization methods, or all [default: all].")] = None,
    max_accuracy_drop: Annotated[Optional[float], Opt(help="Accuracy budget in points below fp32 [default: 1.0].")] = None,
    confidence: Annotated[Optional[float], Opt(help="Within budget means the upper end of the paired drop interval at this level is [default: 0.95]; 0 judges on point estimates.")] = None,
    prefer: Annotated[Optional[str], Opt(help="What the champion optimizes within the budget: size or latency.")] = None,
    threads: Annotated[Optional[int], Opt(help="Torch/ONNX Runtime threads for training and inference timing [default: 1].")] = None,
    out: Annotated[Optional[str], Opt(help="Directory that receives a new folder per run [default: runs].")] = None,
    tracking_uri: Annotated[Optional[str], Opt(help="MLflow tracking URI (else MLFLOW_TRACKING_URI, else ./mlflow.db).")] = None,
    experiment: Annotated[Optional[str], Opt(help="MLflow experiment name [default: quantrack].")] = None,
    model_name: Annotated[Optional[str], Opt(help="Registered model name [default: quantrack-<dataset>-<model>].")] = None,
    run_name: Annotated[Optional[str], Opt(help="MLflow run name.")] = None,
    sensitivity_rows: Annotated[Optional[int], Opt(help="mixed-int8/onnx-mixed-int8: score each layer alone on this many test rows [default: 0 = all].")] = None,
    register: Annotated[Optional[bool], Opt("--register/--no-register",
                                            help="Register the variants and move the 'champion' alias [default: register].")] = None,
) -> None:
    """Train, track, quantize with every method, measure, and name the champion."""
    from quantrack.config import build_config, load_toml

    cfg = build_config(
        load_toml(config) if config is not None else None,
        dataset=dataset, target=target, impute=impute, model=model, hidden=hidden, epochs=epochs, lr=lr,
        batch_size=batch_size, seed=seed, methods=methods, max_accuracy_drop=max_accuracy_drop, prefer=prefer,
        val_size=val_size, checkpoint_on=checkpoint_on, confidence=confidence,
        threads=threads, out=out, tracking_uri=tracking_uri, experiment=experiment, model_name=model_name,
        run_name=run_name, register=register, sensitivity_rows=sensitivity_rows,
    )
    from quantrack import pipeline
    from quantrack.cli.console import RichProgress, print_report

    with RichProgress() as progress:
        report = pipeline.run(cfg, progress)
    print_report(report)


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
    out: Annotated[str, Opt(help="The --out folder of the runs whose spool to upload [default: runs].")] = "runs",
    tracking_uri: Annotated[Optional[str], Opt(help="Upload there instead of each run's own tracking URI.")] = None,
) -> None:
    """Upload runs spooled while the tracking server was unreachable, exactly once."""
    from quantrack.tracking.sync import sync as sync_spool

    sync_spool(Path(out) / "spool", tracking_uri, say=lambda line: typer.echo(f"quantrack: {line}", err=True))


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
        _fail(str(e))
    except TyperException as e:  # usage errors: unknown option, a value of the wrong type
        _fail(e.format_message())
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted; the MLflow run, if one had started, is marked FAILED", code=130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # a bug, or a library failing in a way we did not foresee
        if os.environ.get("QUANTRACK_DEBUG"):
            raise
        from quantrack.errors import first_line
        from quantrack.tracking.connection import redact

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
