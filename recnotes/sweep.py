"""Parameter sweeps: run a notebook (through papermill) or a function over a grid.

``sweep("notebooks/sweeps/train_two_tower.ipynb", {"learning_rate": [0.05, 0.2],
"batch_size": [256, 1024]}, output_dir="runs/lr-batch")`` executes the
notebook once per grid point (the Cartesian product of the value lists) with
papermill, each into its own output notebook, and collects the metrics the
notebook recorded with :func:`recnotes.report.record_metrics` into one tidy
table: one row per grid point and recorded model, the grid values as
columns, then the metrics, ``status``, ``seconds`` and ``error``.

* Names and types are checked against the notebook's ``parameters`` cell
  before the first run starts (a typo costs nothing).
* A grid point that fails is a row with ``status="failed"`` and its error;
  the other points still run.
* The target can also be a Python function (``fn(**point) -> metrics``),
  run in this process: the same table, without the kernel start-up cost.

From the command line: ``python -m recnotes sweep NOTEBOOK -g NAME V1 V2 ...
[-p NAME VALUE] -o DIR`` writes ``sweep.csv`` and ``sweep.md`` into ``DIR``.
"""

from __future__ import annotations

import inspect
import itertools
import pathlib
import sys
import time
from typing import Callable

import numpy as np
import pandas as pd

from recnotes.report import flatten_metrics
from recnotes.runner import (
    ParameterError,
    _failure,
    _literal,
    check_parameter_value,
    collect_metrics,
    notebook_parameters,
    prepare_output_dir,
)

__all__ = ["sweep", "grid_points", "main_sweep"]


def grid_points(grid: dict) -> list[dict]:
    """The Cartesian product of ``{name: [values]}`` as a list of ``{name: value}``, in grid order."""
    if not isinstance(grid, dict) or not grid:
        raise ParameterError(f"grid must be a non-empty dict of name -> list of values, got {grid!r}")
    values_of = {}
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or getattr(values, "ndim", 1) == 0:
            raise ParameterError(f"grid[{name!r}] must be a list of values, got {values!r}")
        values_of[name] = [v.item() if isinstance(v, np.generic) else v for v in values]  # read once (generators)
        if not values_of[name]:
            raise ParameterError(f"grid[{name!r}] is empty: a sweep needs at least one value per name")
    names = list(values_of)
    return [dict(zip(names, combo)) for combo in itertools.product(*(values_of[n] for n in names))]


def _check_notebook_point(notebook: pathlib.Path, declared: dict, point: dict) -> dict:
    checked = {}
    for name, value in point.items():
        if name not in declared:
            raise ParameterError(
                f"{name!r} is not a parameter of {notebook.name}; its parameters cell declares: {', '.join(declared)}"
            )
        checked[name] = check_parameter_value(name, value, declared[name], notebook.name)
    return checked


def _check_function_point(fn: Callable, point: dict, fixed: dict | None = None) -> dict:
    name = getattr(fn, "__name__", type(fn).__name__)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        raise ParameterError(f"cannot read the parameters of {name}; sweep a Python function or a notebook") from None
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    for key in point:
        if not takes_any and key not in signature.parameters:
            raise ParameterError(f"{key!r} is not a parameter of {name}{signature}")
    if fixed is not None:
        try:
            signature.bind(**fixed, **point)
        except TypeError as exc:
            raise ParameterError(f"{name}{signature} cannot be called with {sorted({**fixed, **point})}: {exc}") from None
    return dict(point)


def _numbers(metrics: dict, where: str) -> dict[str, float]:
    for key, value in metrics.items() if isinstance(metrics, dict) else ():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{where}: metric {key!r} is {value!r}, not a number")
    flat = flatten_metrics(metrics)
    if not flat:
        raise ValueError(f"{where}: no metrics returned")
    bad = [k for k, v in flat.items() if not np.isfinite(v)]
    if bad:
        raise ValueError(f"{where}: metric(s) {bad} are not finite")
    return flat


def _metrics_of(value, default_name: str) -> dict[str, dict[str, float]]:
    """``{model: {metric: number}}`` from what a sweep function returned."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return {str(k): _numbers(v, f"model {k!r}") for k, v in value.items()}
    return {default_name: _numbers(value, default_name)}


_RESERVED = ("model", "status", "seconds", "error", "output")


def _check_names(metrics: dict, point: dict) -> None:
    for model, values in metrics.items():
        clash = sorted(set(values) & (set(point) | set(_RESERVED)))
        if clash:
            raise ValueError(
                f"metric name(s) {clash} of {model!r} collide with the table's columns "
                f"(swept parameters and {', '.join(_RESERVED)}); rename the metric"
            )


def sweep(
    target,
    grid: dict,
    parameters: dict | None = None,
    output_dir=None,
    log=print,
) -> pd.DataFrame:
    """Run ``target`` at every point of ``grid`` and return the tidy results table.

    Args:
      target: a notebook path (run by papermill, kernel working directory =
        the notebook's folder) or a function ``fn(**point)`` returning a
        dict of metrics, a metrics table, or ``{model: metrics}``.
      grid: ``{parameter: [values]}``; every combination is run.
      parameters: fixed parameter values for every point.
      output_dir: for a notebook, the folder for the executed copies
        (``point-001.ipynb``, ...) plus ``sweep.csv``; it must be new or
        empty.  Optional for a function (then only the table is returned).
      log: progress lines go here (``print``; ``None`` for silence).

    Returns:
      A DataFrame with one row per (grid point, recorded model): the swept
      parameters, ``model``, the metrics, ``status`` (``"ok"``/``"failed"``),
      ``seconds``, ``error`` (and ``output``, the executed notebook).

    Raises:
      ParameterError: before anything runs, for an unknown parameter name,
        a value of the wrong type, or an output folder that is not empty.
    """
    log = log or (lambda *_: None)
    fixed = dict(parameters or {})
    overlap = sorted(set(fixed) & set(grid or {}))
    if overlap:
        raise ParameterError(f"{', '.join(overlap)} given both as fixed parameters and in the grid")
    points = grid_points(grid)
    is_notebook = isinstance(target, (str, pathlib.Path))
    if is_notebook:
        notebook = pathlib.Path(target)
        if not notebook.is_file():
            raise ParameterError(f"notebook {notebook} not found")
        declared = notebook_parameters(notebook)
        fixed = _check_notebook_point(notebook, declared, fixed)
        checked = [_check_notebook_point(notebook, declared, p) for p in points]
        if output_dir is None:
            raise ParameterError("a notebook sweep needs output_dir: executed copies are written there, never in place")
    elif callable(target):
        fixed = _check_function_point(target, fixed)
        checked = [_check_function_point(target, p, fixed) for p in points]
    else:
        raise ParameterError(f"target must be a notebook path or a function, got {type(target).__name__}")

    out = pathlib.Path(output_dir) if output_dir is not None else None
    if out is not None:
        prepare_output_dir(out, ParameterError)

    rows = []
    try:
        for n, point in enumerate(checked, start=1):
            rows.extend(_run_point(target, is_notebook, fixed, point, n, out, log, len(checked)))
            if out is not None:  # after every point: an interrupted sweep keeps what it finished
                _write_tables(_table(rows), out)
    finally:
        table = _table(rows)
        if out is not None and rows:
            _write_tables(table, out)
    return table


def _run_point(target, is_notebook, fixed, point, n, out, log, total) -> list[dict]:
    shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
    start = time.perf_counter()
    error, results, output = None, {}, None
    try:
        if is_notebook:
            import nbformat
            import papermill as pm

            output = out / f"point-{n:03d}.ipynb"
            try:
                pm.execute_notebook(
                    str(target), str(output), parameters={**fixed, **point},
                    cwd=str(pathlib.Path(target).parent), progress_bar=False, log_output=False,
                )
            finally:  # a failed point keeps what it recorded before the error
                results = collect_metrics(nbformat.read(output, as_version=4)) if output.exists() else {}
            if not results:
                raise RuntimeError(f"{pathlib.Path(target).name} recorded no metrics (call recnotes.report.record_metrics)")
        else:
            results = _metrics_of(target(**fixed, **point), getattr(target, "__name__", "function"))
        _check_names(results, point)
    except Exception as exc:  # one failed point must not lose the others
        message, cell = _failure(exc)
        error = f"In [{cell}]: {message}" if cell else message
        try:
            _check_names(results, point)
        except ValueError:
            results = {}
    seconds = round(time.perf_counter() - start, 1)
    status = "failed" if error else "ok"
    log(f"[{n}/{total}] {shown}: {status} in {seconds}s" + (f" ({error})" if error else ""))
    extra = {"status": status, "seconds": seconds, "error": error}
    if output is not None:
        extra["output"] = str(output)
    if results:
        return [{**point, "model": model, **metrics, **extra} for model, metrics in results.items()]
    return [{**point, "model": None, **extra}]


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    tail = [c for c in ("status", "seconds", "error", "output") if c in table]
    return table[[c for c in table.columns if c not in tail] + tail]


def _write_tables(table: pd.DataFrame, out: pathlib.Path) -> None:
    table.to_csv(out / "sweep.csv", index=False)
    (out / "sweep.md").write_text(_markdown(table) + "\n")


def _markdown(table: pd.DataFrame) -> str:
    columns = [c for c in table.columns if c != "output"]
    lines = ["| " + " | ".join(map(str, columns)) + " |", "|" + "---|" * len(columns)]
    for _, row in table[columns].iterrows():
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append("" if pd.isna(value) else (f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"))
            else:
                text = "" if value is None else " ".join(str(value).split())  # one line per row
                cells.append(text.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main_sweep(args) -> int:
    """The ``sweep`` sub-command (see ``python -m recnotes sweep --help``)."""
    notebook = pathlib.Path(args.notebook)
    try:
        declared = notebook_parameters(notebook) if notebook.is_file() else {}
        grid, fixed = {}, {}
        for name, *values in args.grid or []:
            if not values:
                raise ParameterError(f"-g {name} needs at least one value")
            if name in grid:
                raise ParameterError(f"-g {name} is given twice; list all its values after one -g")
            if len(set(values)) != len(values):
                raise ParameterError(f"-g {name} repeats a value: {values}")
            # a text parameter takes the text as typed (1.10 stays "1.10"); others are Python literals
            grid[name] = list(values) if isinstance(declared.get(name), str) else [_literal(v) for v in values]
        for name, value in args.parameters or []:
            if name in fixed:
                raise ParameterError(f"-p {name} is given twice")
            fixed[name] = value if isinstance(declared.get(name), str) else _literal(value)
        table = sweep(notebook, grid, parameters=fixed, output_dir=args.output)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(_markdown(table))
    print(f"\nExecuted notebooks and sweep.csv / sweep.md are in {args.output}")
    failed = table[table.status != "ok"]
    return 1 if len(failed) else 0
