"""Run notebooks through papermill into an output folder and summarize them.

This is the main job, ``python -m recnotes run``:

* every notebook of ``notebooks/`` (or the ones named) is executed by
  papermill into ``runs/<timestamp>/`` (never in place);
* ``-p NAME VALUE`` parameters are checked against the notebooks'
  ``parameters`` cells before any kernel starts: unknown names and values of
  the wrong type are refused with a clear message;
* metrics that notebooks record with :func:`recnotes.report.record_metrics`
  are collected into ``summary.json`` and ``summary.md``;
* a notebook run with its default parameters is checked against the saved
  copy in ``notebooks/``: every quality metric (Recall, NDCG, HitRate, MRR,
  AUC) must repeat to 4 decimals (same seed, same numbers); differences are
  listed in the summary (a different CPU or library version can cause them);
* the exit status is non-zero if a notebook failed, naming it and the cell.
"""

from __future__ import annotations

import ast
import math
import dataclasses
import datetime as _dt
import json
import os
import pathlib
import sys
import time

import nbformat
import numpy as np

from recnotes.report import METRICS_MIME

__all__ = ["ParameterError", "NotebookResult", "find_notebooks", "parse_parameters", "run_notebooks"]


class ParameterError(ValueError):
    """A notebook or parameter problem found before any kernel starts."""


@dataclasses.dataclass
class NotebookResult:
    notebook: str
    output: str
    status: str  # "ok" or "failed"
    duration_s: float
    metrics: dict = dataclasses.field(default_factory=dict)
    error: str | None = None
    failed_cell: int | None = None  # execution count In [n] of the failing cell
    # default parameters only: quality metrics that differ from the saved notebook's (None: not compared)
    saved_differences: list | None = None


# --- notebooks and their parameters ----------------------------------------


def find_notebooks(selection=(), notebook_dir="notebooks") -> list[pathlib.Path]:
    """Notebooks to run: all of ``notebook_dir`` in name order, or the selection.

    A selection item is a path to a notebook, or the name (with or without
    ``.ipynb``, or a unique prefix such as ``00``) of one in ``notebook_dir``.
    """
    folder = pathlib.Path(notebook_dir)
    available = sorted(p for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    if not selection:
        if not available:
            raise ParameterError(f"no notebooks found in {folder.resolve()}")
        return available
    chosen = []
    for item in selection:
        path = pathlib.Path(item)
        if path.suffix == ".ipynb" and path.is_file():
            chosen.append(path)
            continue
        matches = [p for p in available if p.stem == path.stem] or [
            p for p in available if p.name.startswith(str(item))
        ]
        if len(matches) != 1:
            names = ", ".join(p.stem for p in available) or "none"
            what = "matches several" if matches else "matches no notebook"
            raise ParameterError(f"notebook {item!r} {what}; notebooks in {folder}: {names}")
        chosen.append(matches[0])
    return chosen


def _parameters_cell(path: pathlib.Path):
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # invalid JSON, not a notebook, unreadable
        raise ParameterError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ParameterError(
            f"{path}: expected exactly one cell tagged 'parameters', found {len(tagged)} "
            "(without it papermill ignores the values passed in)"
        )
    if tagged[0].cell_type != "code":
        raise ParameterError(f"{path}: the cell tagged 'parameters' must be a code cell")
    return tagged[0]


def notebook_parameters(path: pathlib.Path) -> dict:
    """``{name: default value}`` of the notebook's ``parameters`` cell (literals only)."""
    cell = _parameters_cell(path)
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        raise ParameterError(f"{path}: the 'parameters' cell is not valid Python (line {exc.lineno}: {exc.msg})") from None
    params = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        params[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        params[target.id] = None  # not a literal: accept any value
    return params


def _literal(text: str):
    """A command-line value as a Python literal (``3``, ``0.1``, ``[1, 3]``, ``True``) or a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def _coerce(name: str, raw: str, default, where: str):
    if isinstance(default, str):
        return raw  # a string parameter takes the text as given
    return check_parameter_value(name, _literal(raw), default, where, shown=raw)


def check_parameter_value(name: str, value, default, where: str, shown=None):
    """``value`` converted to the type of the notebook's ``default``, or a :class:`ParameterError`.

    ``int`` goes to a float parameter as a float; ``bool`` is not accepted as
    a number; a parameter whose default is not a literal (``None`` here)
    takes any value.
    """
    if default is None:
        return value
    if isinstance(value, np.generic):  # numpy scalars from np.arange, np.geomspace, ...
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value) and isinstance(default, float):
        raise ParameterError(f"parameter {name}={value!r}: expected a finite number like the default {default!r} in {where}")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, type(default)):
        return value
    shown = repr(value) if shown is None else repr(shown)
    raise ParameterError(
        f"parameter {name}={shown}: expected {type(default).__name__} like the default "
        f"{default!r} in {where}, got {type(value).__name__}"
    )


def parse_parameters(pairs, notebooks) -> dict[pathlib.Path, dict]:
    """Check ``[(name, text), ...]`` against the notebooks; values per notebook.

    A name must be a parameter of at least one selected notebook; it is
    passed to every notebook that declares it, converted to the type of that
    notebook's default.
    """
    declared = {nb: notebook_parameters(nb) for nb in notebooks}
    per_notebook = {nb: {} for nb in notebooks}
    for name, raw in pairs:
        owners = [nb for nb in notebooks if name in declared[nb]]
        if not owners:
            known = sorted({p for params in declared.values() for p in params})
            raise ParameterError(
                f"unknown parameter {name!r}; the selected notebooks take: {', '.join(known)}"
            )
        for nb in owners:
            per_notebook[nb][name] = _coerce(name, raw, declared[nb][name], nb.name)
    return per_notebook


# --- running ---------------------------------------------------------------


def collect_metrics(notebook) -> dict:
    """``{name: {metric: value}}`` from the outputs tagged by ``record_metrics``."""
    found = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(METRICS_MIME)
            if payload:
                found.setdefault(payload["name"], {}).update(payload["metrics"])
    return found


QUALITY_METRICS = ("Recall@", "NDCG@", "HitRate@", "MRR@", "AUC")


def compare_with_saved(metrics: dict, saved: dict, digits: int = 4) -> list[str]:
    """Quality metrics of a run that differ from the saved notebook's, rounded to ``digits``.

    Only ``Recall@k``, ``NDCG@k``, ``HitRate@k``, ``MRR@k`` and ``AUC`` are
    compared (timings and throughputs vary by nature); a model or metric the
    saved notebook has and the run lacks (or the reverse) is a difference too.
    """
    differences = []
    for model in sorted(set(metrics) | set(saved)):
        new, old = metrics.get(model, {}), saved.get(model, {})
        for key in sorted(k for k in set(new) | set(old) if k.startswith(QUALITY_METRICS)):
            if key not in new or key not in old:
                differences.append(f"{model} {key}: only in the {'run' if key in new else 'saved notebook'}")
            elif round(new[key], digits) != round(old[key], digits):
                differences.append(f"{model} {key}: saved {old[key]:.{digits}f}, this run {new[key]:.{digits}f}")
    return differences


def _failure(exc) -> tuple[str, int | None]:
    """A readable message and the failing cell's execution count (``In [n]``)."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    lines = [ln for ln in (getattr(exc, "source", "") or "").splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    where = f" (cell starting {lines[0].strip()!r})" if lines else ""
    return f"{ename}: {evalue}{where}", getattr(exc, "exec_count", None)


def default_output_dir() -> pathlib.Path:
    """``runs/<YYYYmmdd-HHMMSS>``, with a suffix if that folder exists already."""
    base = pathlib.Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def prepare_output_dir(path, error=ValueError, hint: str = "choose a new one") -> list[pathlib.Path]:
    """Create ``path`` as a new or empty folder in which a file can be written; nothing there is ever overwritten.

    Returns the folders it created (deepest first, so a caller that gives
    up before writing can remove them).  Raises ``error`` naming the folder
    and ending with ``hint`` when ``path`` is a file, a folder that is not
    empty, or cannot be created or written in.
    """
    import tempfile

    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise error(f"the output path {path} exists and is not a folder; {hint}")
    created = []
    try:
        if path.is_dir() and any(path.iterdir()):
            raise error(f"the output folder {path} exists and is not empty (it must be new or empty, nothing is "
                        f"overwritten); {hint}")
        parent = path
        while not parent.exists() and parent != parent.parent:
            created.append(parent)
            parent = parent.parent
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"cannot create the output folder {path}: {exc}; {hint}") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        remove_empty_dirs(created)
        raise error(f"cannot write in the output folder {path}: {exc}; {hint}") from None
    return created


def remove_empty_dirs(folders) -> None:
    """Remove ``folders`` (deepest first) while they are empty: undoes :func:`prepare_output_dir`."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def run_notebooks(notebooks, parameters: dict, output_dir: pathlib.Path, log=print) -> list[NotebookResult]:
    """Execute each notebook into ``output_dir`` and collect its results."""
    import papermill as pm

    output_dir = pathlib.Path(output_dir)
    sources = {nb.resolve() for nb in notebooks}
    outputs = [output_dir / nb.name for nb in notebooks]
    for out in outputs:
        if out.resolve() in sources:
            raise ParameterError(f"refusing to overwrite the source notebook {out}; choose another output folder")
    names = [nb.name for nb in notebooks]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ParameterError(f"several selected notebooks are named {', '.join(clash)}: their outputs would overwrite each other")
    prepare_output_dir(output_dir, ParameterError)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # kernels inherit it: fewer C++ log lines

    results = []
    for n, (nb, out) in enumerate(zip(notebooks, outputs), start=1):
        params = parameters.get(nb, {})
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"
        log(f"[{n}/{len(notebooks)}] {nb} ({shown}) -> {out}")
        start = time.perf_counter()
        try:
            pm.execute_notebook(
                str(nb),
                str(out),
                parameters=params,
                cwd=str(nb.parent),
                progress_bar=True,
                log_output=False,
            )
            status, error, cell = "ok", None, None
        except Exception as exc:  # papermill's own error, or a kernel that died
            status = "failed"
            error, cell = _failure(exc)
        duration = time.perf_counter() - start
        metrics = collect_metrics(nbformat.read(out, as_version=4)) if out.exists() else {}
        if metrics:
            (output_dir / f"{nb.stem}.metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        result = NotebookResult(str(nb), str(out), status, round(duration, 1), metrics, error, cell)
        if status == "ok" and not params:
            result.saved_differences = compare_with_saved(metrics, collect_metrics(nbformat.read(nb, as_version=4)))
        results.append(result)
        log(f"      {status} in {duration:.1f}s" + (f": In [{cell}]: {error}" if error else ""))
        if result.saved_differences:
            log(f"      {len(result.saved_differences)} metric(s) differ from the saved notebook: "
                + "; ".join(result.saved_differences[:5]))
    return results


def _number(value: float) -> str:
    """Metrics with 4 decimals (0.0650), counts and rates with thousands separators."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"


def _metric_order(name: str):
    """Recall, NDCG, HitRate, MRR (by K), AUC, then anything else by name."""
    head, _, k = name.partition("@")
    rank = ["Recall", "NDCG", "HitRate", "MRR", "AUC"]
    return (rank.index(head) if head in rank else len(rank), int(k) if k.isdigit() else 0, name)


def summary_table(results: list[NotebookResult]) -> str:
    """A Markdown table: notebook, status, seconds, then one row per recorded model."""
    lines = ["| notebook | status | seconds | model | metrics |", "|---|---|---|---|---|"]
    for r in results:
        name = pathlib.Path(r.notebook).stem
        if not r.metrics:
            detail = f"In [{r.failed_cell}]: {r.error}" if r.error else ""
            lines.append(f"| {name} | {r.status} | {r.duration_s} | | {detail} |")
        for model, values in r.metrics.items():
            text = ", ".join(f"{k} {_number(values[k])}" for k in sorted(values, key=_metric_order))
            lines.append(f"| {name} | {r.status} | {r.duration_s} | {model} | {text} |")
    return "\n".join(lines)


def write_summary(results: list[NotebookResult], output_dir: pathlib.Path, parameters: dict) -> str:
    output_dir = pathlib.Path(output_dir)
    data = {
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "parameters": {str(nb): p for nb, p in parameters.items()},
        "notebooks": [dataclasses.asdict(r) for r in results],
    }
    (output_dir / "summary.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    table = summary_table(results) + reproducibility_note(results)
    (output_dir / "summary.md").write_text(table + "\n")
    return table


def reproducibility_note(results: list[NotebookResult]) -> str:
    """A paragraph on which default-parameter runs repeated their saved notebook's metrics ("" if none ran)."""
    compared = [r for r in results if r.saved_differences is not None]
    if not compared:
        return ""
    same = [r for r in compared if not r.saved_differences]
    text = (f"\n\nReproducibility: {len(same)} of {len(compared)} notebooks run with their default parameters repeat "
            "every Recall/NDCG/HitRate/MRR/AUC of the saved notebook to 4 decimals.")
    for r in compared:
        if r.saved_differences:
            text += f"\n- {pathlib.Path(r.notebook).stem}: " + "; ".join(r.saved_differences)
    if len(same) < len(compared):
        text += ("\n\nTwo runs on one machine repeat each other; a notebook saved on another CPU or TensorFlow build "
                 "can differ by float rounding (oneDNN picks its kernels by CPU): a few thousandths of Recall@20, "
                 "up to 0.005 measured between two machines (README, Reproducibility).")
    return text


def main_run(args) -> int:
    """The ``run`` sub-command (see ``python -m recnotes run --help``)."""
    try:
        notebooks = find_notebooks(args.notebooks, args.notebook_dir)
        parameters = parse_parameters(args.parameters or [], notebooks)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    output_dir = pathlib.Path(args.output) if args.output else default_output_dir()
    try:
        results = run_notebooks(notebooks, parameters, output_dir)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = write_summary(results, output_dir, parameters)
    print()
    print(table)
    print(f"\nExecuted notebooks and summary.json / summary.md are in {output_dir}")
    failed = [r for r in results if r.status != "ok"]
    for r in failed:
        print(f"FAILED: {r.notebook}, cell In [{r.failed_cell}]: {r.error}", file=sys.stderr)
    return 1 if failed else 0
