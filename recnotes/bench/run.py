"""The bench table: every recnotes model and the live references, scored by the protocol.

One run, one machine, one seed: each row is trained on the chrono-80/10/10
train split and scored on test with the same
:class:`~recnotes.evaluation.FullRankingEvaluator` (Recall / NDCG at 10,
20, 50), with its training seconds, steady examples/s and evaluation
seconds.  Two speed ratios are measured side by side in the same run:

* training: recnotes two-tower examples/s / TFRS two-tower examples/s
  (ids, batch 1024, dim 64, in-batch softmax, Adagrad; goal >= 1.5);
* evaluation: a whole full-ranking evaluation (all users x all items,
  K in {10, 20, 50}) vectorized vs a plain per-user loop (goal < 0.5 s).

``python -m recnotes bench`` writes ``bench.md`` and ``bench.json``;
``--compare OLD.json`` checks that a second run repeats every metric to
4 decimals.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import pathlib
import platform
import time

import numpy as np
import pandas as pd

from recnotes.bench import models as bench_models
from recnotes.bench import references as bench_references
from recnotes.bench.data import BenchData
from recnotes.bench.speed import time_evaluation
from recnotes.runner import prepare_output_dir, remove_empty_dirs

__all__ = ["BenchResult", "run_bench", "compare_runs", "check_bench_json", "main_bench"]

KS = (10, 20, 50)
TRAINING_GOAL = 1.5  # recnotes / TFRS examples per second
EVALUATION_GOAL_SECONDS = 0.5


@dataclasses.dataclass
class BenchResult:
    """What a bench run measured: the table, the speed ratios and where it ran."""

    table: pd.DataFrame
    speed: list[dict]
    machine: dict
    failures: dict

    def to_markdown(self) -> str:
        return format_markdown(self)

    def to_json(self) -> dict:
        rows = json.loads(self.table.reset_index().to_json(orient="records"))
        return {"machine": self.machine, "rows": rows, "speed": self.speed, "failures": self.failures}

    def __repr__(self) -> str:
        return f"BenchResult(rows={len(self.table)}, failures={len(self.failures)}, machine={self.machine['cpu_count']} CPUs)"


def machine_info() -> dict:
    import keras
    import tensorflow as tf

    return {
        "date": datetime.date.today().isoformat(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def _select(specs, names, kind: str):
    if names is None:
        return list(specs)
    known = {spec.name.lower(): spec for spec in specs}
    unknown = [n for n in names if n.lower() not in known]
    if unknown:
        raise ValueError(f"unknown {kind} {unknown}; choose from {[spec.name for spec in specs]}")
    return [known[n.lower()] for n in names]


def _row(spec, fitted, data, log) -> dict:
    start = time.perf_counter()
    table = data.evaluator.evaluate(fitted.scores, ks=KS, auc=False)
    eval_seconds = time.perf_counter() - start
    row = {"model": spec.name, "source": spec.source, "config": spec.config}
    for metric in ("Recall", "NDCG"):
        for k in KS:
            row[f"{metric}@{k}"] = float(table.loc[k, metric])
    row |= {"train_seconds": fitted.train_seconds, "examples_per_second": fitted.examples_per_second,
            "eval_seconds": eval_seconds}
    log(f"  {spec.name}: Recall@20 {row['Recall@20']:.4f}, NDCG@20 {row['NDCG@20']:.4f}, "
        f"train {fitted.train_seconds:.1f} s" + (f", {fitted.examples_per_second:,.0f} examples/s"
                                                if math.isfinite(fitted.examples_per_second) else "")
        + f", eval {eval_seconds:.2f} s")
    return row


def run_bench(
    data_dir="data/ml-latest-small",
    models=None,
    references=None,
    seed: int = 0,
    quick: bool = False,
    log=print,
) -> BenchResult:
    """Train and score the selected models and references; measure the speed ratios.

    Args:
      data_dir: a MovieLens-format folder.
      models, references: names to run (default: all; ``[]`` for none), see
        :data:`recnotes.bench.models.RECNOTES_MODELS` and
        :data:`recnotes.bench.references.REFERENCES`.
      seed: every model's seed (same seed, same metrics).
      quick: one epoch / two iterations per model (a smoke run).

    A reference whose library is missing stops the run before any training,
    naming the package, and so does (ValueError) a feature model (FM, DNN and
    SENet two-tower) when the folder has no ``movies.csv``; a model that fails
    is recorded in ``failures`` and the others still run.  In a quick run the
    speed goals are not judged (``met`` is None): one epoch measures tracing
    more than steady speed.
    """
    from recnotes.training import set_seed

    model_specs = _select(bench_models.RECNOTES_MODELS, models, "models")
    reference_specs = _select(bench_references.REFERENCES, references, "references")
    for spec in reference_specs:  # a missing library stops the run here, before any training
        if spec.name.startswith("implicit"):
            bench_references._require("implicit", "implicit")
        if spec.name.startswith("TFRS"):
            bench_references._require("tensorflow_recommenders", "tensorflow-recommenders")
            bench_references._require("tf_keras", "tf-keras")
    set_seed(seed)
    log(f"bench: loading {data_dir}")
    data = BenchData.load(data_dir, seed=seed, quick=quick)
    if data.movielens.movies is None:  # before any training, not after the models that need none
        needing = [spec.name for spec in model_specs if spec.needs_movies]
        if needing:
            raise ValueError("; ".join(bench_models.needs_movies_message(name, data_dir) for name in needing)
                             + "; add movies.csv or leave these models out with --models")
    log(f"bench: {data.evaluator!r}")
    rows, failures, fitted_by_name = [], {}, {}
    for spec in [*model_specs, *reference_specs]:
        log(f"bench: training {spec.name} ({spec.config})")
        set_seed(seed)
        try:
            fitted = spec.fit(data)
            rows.append(_row(spec, fitted, data, log))
            fitted_by_name[spec.name] = fitted
        except bench_references.MissingReference:
            raise
        except Exception as exc:  # noqa: BLE001 - one failed row must not lose the others
            failures[spec.name] = f"{type(exc).__name__}: {exc}"
            log(f"  {spec.name} FAILED: {failures[spec.name]}")
    table = pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()
    speed = []
    ours = fitted_by_name.get("two-tower")
    for other, goal in (("TFRS two-tower", TRAINING_GOAL), ("two-tower, notebook input", None)):
        theirs = fitted_by_name.get(other)
        if ours is None or theirs is None:
            continue
        ratio = ours.examples_per_second / theirs.examples_per_second
        speed.append({
            "comparison": "two-tower training, examples/s (ids, batch 1024, dim 64)",
            "recnotes": ours.examples_per_second, "reference": theirs.examples_per_second, "reference_name": other,
            "ratio": ratio, "goal": f">= {goal}x" if goal else "(what input tuning buys)",
            **_verdict(ratio >= goal if goal else None, quick),
        })
    timed = ours or next(iter(fitted_by_name.values()), None)
    if timed is not None:
        log("bench: timing the full-ranking evaluation against a per-user loop")
        timing = time_evaluation(data.evaluator, timed.scores, ks=KS)
        speed.append({
            "comparison": f"full-ranking evaluation, {timing.users} users x {timing.items} items, K in {list(KS)}, "
                          "seconds",
            "recnotes": timing.vectorized_seconds, "reference": timing.loop_seconds,
            "reference_name": "per-user Python loop", "ratio": timing.speedup,
            "goal": f"< {EVALUATION_GOAL_SECONDS} s",
            **_verdict(timing.vectorized_seconds < EVALUATION_GOAL_SECONDS, quick),
            "max_metric_difference": timing.max_metric_difference,
        })
    machine = {**machine_info(), "data_dir": str(data_dir), "seed": seed, "quick": quick,
               "protocol_data": is_protocol_data(data_dir)}
    return BenchResult(table, speed, machine, failures)


def _verdict(met, quick: bool) -> dict:
    """``{"met": ...}`` of a speed row; a quick run judges no goal (``met`` None, with a note)."""
    if quick and met is not None:
        return {"met": None, "met_note": "n/a (quick run)"}
    return {"met": met}


def is_protocol_data(data_dir) -> bool:
    """Is ``data_dir`` ml-latest-small, the data of the protocol's figures (its ratings.csv by SHA-256)?"""
    path = pathlib.Path(data_dir) / "ratings.csv"
    try:
        if path.stat().st_size > 10 * 2**20:  # ml-latest-small's is 2.4 MiB: no need to hash a big file
            return False
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return False
    return digest == bench_references.PROTOCOL_RATINGS_SHA256


def _cell(value, digits: int) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def format_markdown(result: BenchResult) -> str:
    m = result.machine
    lines = [
        f"Bench of {m['date']} on {m['cpu_count']} CPUs ({m['processor']}"
        + (f", GPUs: {', '.join(m['gpus'])}" if m["gpus"] else ", no GPU")
        + f"), TensorFlow {m['tensorflow']}, Keras {m['keras']}, seed {m['seed']}"
        + (" — QUICK run (1 epoch per model), not comparable" if m["quick"] else "") + ".",
        "",
    ]
    if len(result.table):
        metric_columns = [f"{metric}@{k}" for metric in ("Recall", "NDCG") for k in KS]
        header = ["model", "source", *metric_columns, "train s", "examples/s", "eval s"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, row in result.table.iterrows():
            cells = [name, row["source"], *[_cell(row[c], 4) for c in metric_columns],
                     _cell(row["train_seconds"], 1), _cell(row["examples_per_second"], 0), _cell(row["eval_seconds"], 2)]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Configurations:", ""]
        lines += [f"- {name}: {row['config']}" for name, row in result.table.iterrows()]
        protocol = bench_references.PROTOCOL_RECALL_NDCG_20
        live = [n for n in protocol if n in result.table.index]
        if live and m.get("protocol_data"):
            lines += ["", "References live vs the protocol's figures (Recall@20 / NDCG@20): " + "; ".join(
                f"{n} {result.table.loc[n, 'Recall@20']:.4f} / {result.table.loc[n, 'NDCG@20']:.4f} "
                f"(protocol {protocol[n][0]:.4f} / {protocol[n][1]:.4f})" for n in live) + "."]
        elif live:
            lines += ["", f"The protocol's reference figures are for ml-latest-small; {m['data_dir']} is other data, "
                          "so the live references are not compared with them."]
    if result.speed:
        lines += ["", "| speed, side by side in this run | recnotes | reference | ratio | goal | met |",
                  "|---|---|---|---|---|---|"]
        for s in result.speed:
            digits = 3 if "seconds" in s["comparison"] else 0
            lines.append(f"| {s['comparison']} | {_cell(s['recnotes'], digits)} | {_cell(s['reference'], digits)} "
                         f"({s['reference_name']}) | {s['ratio']:.2f}x | {s['goal']} | {s.get('met_note') or _met(s['met'])} |")
    if result.failures:
        lines += ["", "Failed: " + "; ".join(f"{n}: {e}" for n, e in result.failures.items())]
    return "\n".join(lines) + "\n"


def _met(met) -> str:
    return "—" if met is None else "yes" if met else "no"


_METRIC_PREFIXES = ("Recall@", "NDCG@")
_SETTINGS = ("seed", "data_dir", "quick")


def check_bench_json(data, source: str = "the bench.json") -> dict:
    """``data`` if it has the shape :meth:`BenchResult.to_json` writes, else ValueError saying what is wrong.

    Required: an object with ``"rows"``, a list of objects, each with a
    ``"model"`` name (text, each once) and at least one ``Recall@k`` /
    ``NDCG@k`` metric whose value is a number or null; ``"machine"``, if
    present, must be an object.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object with 'rows' (a bench.json), got {type(data).__name__}")
    if "rows" not in data:
        raise ValueError(f"{source}: no 'rows' key (found {sorted(data)}); expected a bench.json written by the bench")
    rows = data["rows"]
    if not isinstance(rows, list):
        raise ValueError(f"{source}: 'rows' must be a list of row objects, got {type(rows).__name__}")
    if not isinstance(data.get("machine", {}), dict):
        raise ValueError(f"{source}: 'machine' must be an object, got {type(data['machine']).__name__}")
    seen = set()
    for i, row in enumerate(rows):
        where = f"{source}: rows[{i}]"
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected an object with 'model' and metrics, got {row!r}")
        name = row.get("model")
        if not isinstance(name, str):
            raise ValueError(f"{where}: expected a 'model' name (text), got {name!r}")
        if name in seen:
            raise ValueError(f"{where}: the model {name!r} appears twice")
        seen.add(name)
        metrics = {k: v for k, v in row.items() if k.startswith(_METRIC_PREFIXES)}
        if not metrics:
            raise ValueError(f"{where} ({name}): no Recall@k or NDCG@k metric; expected a bench.json row")
        for key, value in metrics.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{where} ({name}): {key} must be a number or null, got {value!r}")
    return data


def settings_differences(new: dict, old: dict) -> list[str]:
    """The run settings (seed, data_dir, quick) that differ between two bench.json, e.g. ``["seed 1 vs 0"]``."""
    a, b = new.get("machine") or {}, old.get("machine") or {}
    return [f"{key} {a[key]!r} (new) vs {b[key]!r} (old)" for key in _SETTINGS
            if key in a and key in b and a[key] != b[key]]


def _rounded(value, digits: int):
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _shown(value, digits: int) -> str:
    return "null" if value is None else f"{value:.{digits}f}"


def compare_runs(new: dict, old: dict, digits: int = 4) -> list[str]:
    """Metrics of ``new`` that differ from ``old`` when rounded to ``digits`` (empty: they repeat).

    A row (or a metric) present in only one of the runs is listed as a
    difference too.  Raises ValueError when no metric is present in both runs
    (nothing was compared, so "they repeat" would mean nothing); the message
    names the run settings that differ, if any.
    """
    old_rows = {row["model"]: row for row in old["rows"]}
    new_names = {row["model"] for row in new["rows"]}
    differences, compared = [], 0
    for row in new["rows"]:
        before = old_rows.get(row["model"])
        if before is None:
            differences.append(f"{row['model']}: not in the old run")
            continue
        for key, value in row.items():
            if not key.startswith(_METRIC_PREFIXES):
                continue
            if key not in before:
                differences.append(f"{row['model']} {key}: not in the old run")
                continue
            compared += 1
            if _rounded(value, digits) != _rounded(before[key], digits):
                differences.append(f"{row['model']} {key}: {_shown(before[key], digits)} -> {_shown(value, digits)}")
    differences += [f"{name}: not in the new run" for name in old_rows if name not in new_names]
    if not compared:
        settings = settings_differences(new, old)
        raise ValueError(
            f"no metric was compared: the runs have no model in common (new: {sorted(new_names) or 'none'}, "
            f"old: {sorted(old_rows) or 'none'})"
            + (f"; note that the runs differ in {', '.join(settings)}" if settings else "")
        )
    return differences


def default_output_dir() -> pathlib.Path:
    return pathlib.Path("runs") / ("bench-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))


def main_bench(args) -> int:
    """The ``bench`` sub-command: 0 when every row ran (and repeats ``--compare``), 1 otherwise, 2 for a bad request.

    The output folder is created, and ``--compare`` read and checked, before
    anything is trained; a request refused before training leaves no folder
    behind.
    """
    output = pathlib.Path(args.output) if args.output else default_output_dir()
    old = None
    if args.compare:
        try:
            old = check_bench_json(json.loads(pathlib.Path(args.compare).read_text(encoding="utf-8")),
                                   f"--compare {args.compare}")
        except ValueError as exc:
            print(f"bench: cannot use {exc}" if str(exc).startswith("--compare") else
                  f"bench: cannot read --compare {args.compare}: {exc}")
            return 2
        except OSError as exc:
            print(f"bench: cannot read --compare {args.compare}: {exc}")
            return 2
    try:
        created = prepare_output_dir(output, hint="choose another folder with -o")
    except ValueError as exc:
        print(f"bench: {exc}")
        return 2
    try:
        result = run_bench(args.data_dir, models=args.models, references=args.references, seed=args.seed,
                           quick=args.quick, log=lambda text: print(text, flush=True))
    except (ValueError, bench_references.MissingReference) as exc:
        remove_empty_dirs(created)  # nothing was written: leave no empty folder behind
        print(f"bench: {exc}")
        return 2
    markdown = result.to_markdown()
    print("\n" + markdown)  # on the terminal first: a failed write below does not lose the run
    try:
        (output / "bench.md").write_text(markdown, encoding="utf-8")
        (output / "bench.json").write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"bench: cannot write the results into {output}: {exc} (the table is printed above)")
        return 2
    print(f"bench: wrote {output / 'bench.md'} and {output / 'bench.json'}")
    status = 1 if result.failures else 0
    if old is not None:
        new = result.to_json()
        settings = settings_differences(new, old)
        try:
            differences = compare_runs(new, old)
        except ValueError as exc:
            print(f"bench: cannot compare with {args.compare}: {exc}")
            return 1
        if differences:
            print(f"bench: {len(differences)} difference(s) from {args.compare} at 4 decimals:")
            print("\n".join("  " + d for d in differences))
            status = 1
        else:
            print(f"bench: every metric repeats {args.compare} to 4 decimals")
        if settings:
            print(f"bench: note that the runs differ in {', '.join(settings)}")
    return status
