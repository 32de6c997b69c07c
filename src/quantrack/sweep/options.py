"""Where a sweep's inputs come from: defaults, the TOML file (its run options and its [sweep]
table), then the command line; flags win over the file, as for `quantrack run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantrack.errors import QuantrackError
from quantrack.sweep.space import SWEEPABLE, Space, build_space, check_settings, split_sweep_table


def sweep_inputs(config: str | Path | None, *, fixed: dict[str, Any], multi: dict[str, Any],
                 settings: dict[str, Any]) -> tuple[dict[str, Any], Space, dict[str, Any]]:
    """(fixed options for build_config, the space of varying options, the sweep's settings)."""
    from quantrack.config import load_toml, read_toml

    base: dict[str, Any] = {}
    table_options: dict[str, Any] = {}
    table_settings: dict[str, Any] = {}
    if config is not None:
        base = load_toml(config)
        table = read_toml(config).get("sweep")
        if table is not None:
            if not isinstance(table, dict):
                raise QuantrackError(f"config file {config}: 'sweep' must be a table ([sweep])")
            table_options, table_settings = split_sweep_table(table, str(config))
    for name, value in table_options.items():
        if name not in SWEEPABLE:
            base[name] = value
    base.update({k: v for k, v in fixed.items() if v is not None})
    values = {name: table_options.get(name) for name in SWEEPABLE}
    values.update({k: v for k, v in multi.items() if v})
    for name in SWEEPABLE:  # a single value in the file's run options is a one-value "sweep"
        if values.get(name) is None and name in base:
            values[name] = [base[name]] if name in ("hidden", "methods") else base[name]
        base.pop(name, None)
    out = {k: table_settings.get(k) for k in ("samples", "search", "max_concurrent", "ray_address")}
    out.update({k: v for k, v in settings.items() if v is not None})
    _check_types(out)
    if out["search"] is None:
        out["search"] = "random" if out["samples"] is not None else "grid"
    if out["search"] == "grid" and out["samples"] is not None:
        raise QuantrackError("--samples draws random combinations; use it with --search random or optuna, not grid")
    check_settings(out["search"], out["samples"], out["max_concurrent"])
    space = build_space(base, values)
    return base, space, out


def _check_types(settings: dict[str, Any]) -> None:
    for name in ("samples", "max_concurrent"):
        v = settings.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise QuantrackError(f"--{name.replace('_', '-')} must be a positive integer, got {v!r}")
    for name in ("search", "ray_address"):
        v = settings.get(name)
        if v is not None and not isinstance(v, str):
            raise QuantrackError(f"--{name.replace('_', '-')} must be a string, got {v!r}")
