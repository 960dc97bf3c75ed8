"""Scale benchmark: how loading, splitting and training grow with the size of the log.

``python -m recnotes scale`` (default sizes 100k, 1M and 10M interactions)
measures, for each size in a fresh Python process (so that the peak memory
of a size is its own, not the largest seen so far):

1. **generate** — :func:`recnotes.synthetic.write_synthetic_movielens` writes
   the folder (skipped for ``--data-dir``, a real MovieLens folder);
2. **load** — :func:`recnotes.data.load_movielens` (validation included);
3. **split** — :func:`recnotes.splits.chrono_split`, the protocol's 80/10/10;
4. **evaluator** — :class:`~recnotes.evaluation.FullRankingEvaluator` on the
   validation split (its id encoders are what training uses);
5. **epoch** — one epoch of :func:`recnotes.training.fit_two_tower` (batch
   1024, dimension 64, in-batch softmax, Adagrad 0.1, seed 0), with the
   notebooks' input pipeline (a shuffle buffer of the whole log) or, with
   ``--vectorized-input``, ``interaction_dataset(vectorized=True)`` (one
   permutation per epoch); with ``--sparse-optimizer``,
   :class:`~recnotes.optimizers.SparseAdagrad` (the same Adagrad update on
   the batch's embedding rows only, instead of Keras' whole-table division).

Times are wall-clock seconds (``time.perf_counter``) of each stage.
``examples/s`` is training rows / epoch seconds (Keras' ``on_epoch_begin`` to
``on_epoch_end``); the first batch includes tracing the train step, a fixed
cost of a few seconds, so ``steady examples/s`` leaves it out: rows after the
first batch / seconds from the end of the first batch to the end of the
epoch.  Peak memory is the process' peak resident set size
(``getrusage(RUSAGE_SELF).ru_maxrss``) read after generation, after the
evaluator (the data, before TensorFlow is imported) and at the end.

The ``× smallest`` columns divide each stage's time per interaction by that
of the smallest size (for the epoch: time per row after the first batch):
values near 1 mean the stage grows linearly with the number of
interactions.  Results go to ``scale.json`` and ``scale.md`` in the
output folder, rewritten after every size, so an interrupted run keeps the
sizes it finished.
"""

from __future__ import annotations

import datetime as _dt
import fractions
import json
import math
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback

__all__ = [
    "COLUMNS", "DEFAULT_SIZES", "MIN_SIZE", "parse_size", "format_size", "measure", "with_ratios", "run_scale", "scale_markdown",
    "main_scale",
]

DEFAULT_SIZES = ("100k", "1M", "10M")
#: The smallest generated size: the first with two users (``recnotes.synthetic.default_n_users``).
MIN_SIZE = 225
_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}

# (column, key in a result, format); a result is one size's dict
_COLUMNS = (
    ("size", "label", "{}"),
    ("interactions", "interactions", "{:,}"),
    ("users", "users", "{:,}"),
    ("items", "items", "{:,}"),
    ("train rows", "train_rows", "{:,}"),
    ("generate s", "generate_s", "{:.2f}"),
    ("load s", "load_s", "{:.2f}"),
    ("split s", "split_s", "{:.2f}"),
    ("evaluator s", "evaluator_s", "{:.2f}"),
    ("epoch s", "epoch_s", "{:.1f}"),
    ("examples/s", "examples_per_s", "{:,.0f}"),
    ("steady examples/s", "steady_examples_per_s", "{:,.0f}"),
    ("generate peak MiB", "generate_peak_mib", "{:,.0f}"),
    ("data peak MiB", "data_peak_mib", "{:,.0f}"),
    ("peak MiB", "peak_mib", "{:,.0f}"),
    ("peak bytes/row", "peak_bytes_per_row", "{:,.0f}"),
    ("load × smallest", "load_ratio", "{:.2f}"),
    ("split × smallest", "split_ratio", "{:.2f}"),
    ("epoch × smallest", "epoch_ratio", "{:.2f}"),
)
COLUMNS = tuple(c for c, _, _ in _COLUMNS)


def parse_size(text) -> int:
    """``"100k"`` -> 100000, ``"1M"`` -> 1000000, ``"2.5M"``, ``"5000"``; suffixes k, M, G (any case)."""
    if isinstance(text, bool):
        raise ValueError(f"size {text!r}: expected a number of interactions, not a boolean")
    if isinstance(text, int):
        value = text
    else:
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]?)\s*", str(text))
        if not match:
            raise ValueError(f"size {text!r}: expected a number of interactions such as 5000, 100k, 1M or 2.5M")
        value = fractions.Fraction(match.group(1)) * _SUFFIXES[match.group(2).lower()]  # exact: 1.1M is 1100000
        if value.denominator != 1:
            raise ValueError(f"size {text!r} is not a whole number of interactions")
        value = int(value)
    if value < 1:
        raise ValueError(f"size {text!r}: needs at least one interaction")
    return value


def format_size(n: int) -> str:
    """The short label of a size: 100000 -> ``"100k"``, 1500000 -> ``"1.5M"``, 123456 -> ``"123456"``."""
    for suffix, factor in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= factor and (n * 10) % factor == 0:
            return f"{n / factor:g}{suffix}"
    return str(n)


def _peak_mib() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def measure(
    folder: str | pathlib.Path,
    *,
    generate_rows: int | None = None,
    seed: int = 0,
    batch_size: int = 1024,
    embedding_dim: int = 64,
    vectorized_input: bool = False,
    sparse_optimizer: bool = False,
    label: str | None = None,
    log=print,
) -> dict:
    """Run the stages of the module docstring on one folder in this process; return what was measured.

    With ``generate_rows``, :func:`~recnotes.synthetic.write_synthetic_movielens`
    first writes that many interactions (seeded) into ``folder``.  Peak memory
    values are this process' peaks, so call it in a fresh process (as
    :func:`run_scale` does) to get one size's own.
    """
    from recnotes.data import load_movielens
    from recnotes.evaluation import FullRankingEvaluator
    from recnotes.splits import chrono_split

    folder = pathlib.Path(folder)
    label = label or folder.name
    result = {"label": label, "folder": str(folder), "start_peak_mib": _peak_mib()}

    def stage(name, fn):
        start = time.perf_counter()
        value = fn()
        result[f"{name}_s"] = time.perf_counter() - start
        log(f"  {label}: {name} {result[f'{name}_s']:.2f} s (peak RSS so far {_peak_mib():,.0f} MiB)")
        return value

    if generate_rows is not None:
        from recnotes.synthetic import write_synthetic_movielens

        stage("generate", lambda: write_synthetic_movielens(folder, generate_rows, seed=seed))
        result["generate_peak_mib"] = _peak_mib()
    data = stage("load", lambda: load_movielens(folder))
    ratings = data.ratings
    result.update(interactions=len(ratings), users=int(ratings.userId.nunique()), items=int(ratings.movieId.nunique()))
    split = stage("split", lambda: chrono_split(ratings))
    evaluator = stage("evaluator", lambda: FullRankingEvaluator.from_split(split, on="validation"))
    result["train_rows"] = len(split.train)
    result["data_peak_mib"] = _peak_mib()
    del data, ratings

    import keras

    from recnotes.training import fit_two_tower

    class FirstBatchEnd(keras.callbacks.Callback):
        """Records when the first batch of the epoch ends (after the train step was traced)."""

        time = None

        def on_train_batch_end(self, batch, logs=None):
            if self.time is None:
                self.time = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.end = time.perf_counter()

    marks = FirstBatchEnd()
    run = stage(
        "fit",
        lambda: fit_two_tower(
            split.train, evaluator, epochs=1, batch_size=batch_size, embedding_dim=embedding_dim, seed=seed,
            vectorized_input=vectorized_input, callbacks=[marks],
            optimizer="sparse_adagrad" if sparse_optimizer else "adagrad",
        ),
    )
    rows = len(split.train)
    result["epoch_s"] = run.throughput.epoch_seconds[0]
    result["examples_per_s"] = rows / result["epoch_s"]
    after_first = rows - min(batch_size, rows)
    result["steady_examples_per_s"] = after_first / (marks.end - marks.time) if after_first else float("nan")
    result["train_loss"] = float(run.history.history["loss"][-1])
    result["vectorized_input"] = bool(vectorized_input)
    result["sparse_optimizer"] = bool(sparse_optimizer)
    result["peak_mib"] = _peak_mib()
    result["peak_bytes_per_row"] = result["peak_mib"] * 2**20 / result["interactions"]
    import tensorflow as tf

    result["devices"] = [d.device_type + ":" + d.name.rsplit(":", 1)[-1] for d in tf.config.list_physical_devices()]
    log(
        f"  {label}: epoch {result['epoch_s']:.1f} s, {result['examples_per_s']:,.0f} examples/s "
        f"({result['steady_examples_per_s']:,.0f} after the first batch), peak RSS {result['peak_mib']:,.0f} MiB"
    )
    return result


def with_ratios(results: list[dict]) -> list[dict]:
    """Add ``load_ratio``, ``split_ratio``, ``epoch_ratio`` to each measured size (in place).

    ``load_ratio = (load_s / interactions) / (the same for the smallest
    size)``, likewise ``split_ratio``; ``epoch_ratio`` compares seconds per
    training row after the first batch (``1 / steady_examples_per_s``), so
    the one-time tracing of the train step does not make small sizes look
    slow.  Failed sizes are left out.
    """
    ok = [r for r in results if r.get("status", "ok") == "ok"]
    if not ok:
        return results
    base = min(ok, key=lambda r: r["interactions"])
    for r in ok:
        for stage in ("load", "split"):
            r[f"{stage}_ratio"] = (r[f"{stage}_s"] / r["interactions"]) / (base[f"{stage}_s"] / base["interactions"])
        r["epoch_ratio"] = base["steady_examples_per_s"] / r["steady_examples_per_s"]
    return results


def _cell(result: dict, key: str, fmt: str) -> str:
    value = result.get(key)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):  # blank, like null in scale.json
        return ""
    return fmt.format(value)


def scale_markdown(results: list[dict], meta: dict) -> str:
    """The results as a markdown table, with what was run and on which machine."""
    lines = [
        "# Scale benchmark",
        "",
        f"{meta['created']} on {meta['machine']}; {meta['settings']}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in results:
        if r.get("status", "ok") != "ok":
            lines.append(f"| {r['label']} | failed: {' '.join(str(r.get('error', '')).split())[:200]} |")
            continue
        lines.append("| " + " | ".join(_cell(r, key, fmt) for _, key, fmt in _COLUMNS) + " |")
    lines += [
        "",
        "Times are wall-clock seconds per stage; `epoch s` is one training epoch (its first batch traces the "
        "train step; `steady examples/s` leaves that batch out). `× smallest`: seconds per interaction relative "
        "to the smallest size (1 = linear growth; for the epoch, per row after the first batch). Peaks are the process' peak RSS after generation, after "
        "load + split + evaluator (before TensorFlow is imported) and at the end; each size runs in its own "
        "process.",
    ]
    return "\n".join(lines) + "\n"


def _meta(settings: str) -> dict:
    return {
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}",
        "settings": settings,
    }


def _strict(value):
    """``value`` with every NaN or infinite float replaced by None (JSON has no NaN; ``null`` reads anywhere)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def _write(output: pathlib.Path, results: list[dict], meta: dict) -> None:
    """``scale.json`` (strict JSON: a value that is not a finite number is ``null``) and ``scale.md``."""
    (output / "scale.json").write_text(json.dumps(_strict({**meta, "results": results}), indent=2, allow_nan=False)
                                       + "\n")
    (output / "scale.md").write_text(scale_markdown(results, meta))


def run_scale(
    sizes=DEFAULT_SIZES,
    data_dirs=(),
    output_dir: str | pathlib.Path | None = None,
    *,
    seed: int = 0,
    batch_size: int = 1024,
    embedding_dim: int = 64,
    vectorized_input: bool = False,
    sparse_optimizer: bool = False,
    keep_data: bool = False,
    log=print,
) -> list[dict]:
    """Measure every size (generated) and every ``data_dirs`` folder, each in a fresh process.

    Generated data go to ``output_dir/data/<size>/`` and are deleted after
    their size was measured unless ``keep_data`` (they are a function of the
    seed and can be written again).  Returns one dict per size, in the order
    given; a size whose process failed has ``status="failed"`` and its error.

    Refused (ValueError) before anything runs: a size below
    :data:`MIN_SIZE` (225 interactions: below it the generator writes a
    single user, whose held-out movies are never in train, so there is
    nothing to evaluate), repeated sizes, repeated folders or folders
    whose names (the row labels) repeat each other or a size's label, a
    ``seed`` outside ``[0, 2**32 - 1]``, ``batch_size < 2``,
    ``embedding_dim < 1``, and an output folder that is not new or empty.
    """
    from recnotes.runner import default_output_dir, prepare_output_dir

    rows = [parse_size(s) for s in sizes]
    if len(set(rows)) != len(rows):
        raise ValueError(f"sizes repeat a value: {list(sizes)}")
    small = [s for s, n in zip(sizes, rows) if n < MIN_SIZE]
    if small:
        raise ValueError(
            f"size(s) {small} below {MIN_SIZE} interactions: there the synthetic generator writes a single user "
            "(users = round(interactions / 150)), whose validation and test movies are never in train (a user "
            f"rates a movie once), so nothing can be evaluated; the smallest size is {MIN_SIZE}"
        )
    dirs = [pathlib.Path(d) for d in data_dirs]
    for d in dirs:
        if not (d / "ratings.csv").is_file():
            raise ValueError(f"--data-dir {d}: no ratings.csv there; expected a MovieLens-format folder")
    resolved = [d.resolve() for d in dirs]
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"--data-dir repeats a folder: {[str(d) for d in dirs]}")
    labels = [format_size(n) for n in rows] + [d.name for d in dirs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(
            f"two rows would have the same label {repeated} (a --data-dir is labelled by its folder name): "
            f"sizes {list(sizes)}, folders {[str(d) for d in dirs]}; rename or measure them in separate runs"
        )
    if not rows and not dirs:
        raise ValueError("nothing to measure: give sizes or data folders")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**32 - 1:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size must be an integer >= 2 (in-batch negatives need other rows), got {batch_size!r}")
    if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
        raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim!r}")
    output = pathlib.Path(output_dir) if output_dir is not None else default_output_dir()
    prepare_output_dir(output)
    pipeline = "vectorized input (one permutation per epoch)" if vectorized_input else "a shuffle buffer of the whole log"
    adagrad = "SparseAdagrad (batch rows only)" if sparse_optimizer else "Keras Adagrad"
    meta = _meta(f"seed {seed}, two-tower batch {batch_size}, dimension {embedding_dim}, 1 epoch, {pipeline}, {adagrad}")
    cases = [(format_size(n), output / "data" / format_size(n), n) for n in rows]
    cases += [(d.name, d, None) for d in dirs]
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = []
    for i, (label, folder, n) in enumerate(cases, 1):
        what = f"{n:,} synthetic interactions" if n else f"the MovieLens folder {folder}"
        log(f"[{i}/{len(cases)}] {label}: {what}, in a new process")
        result_file = output / f".result-{i}.json"
        spec = {
            "folder": str(folder), "generate_rows": n, "seed": seed, "batch_size": batch_size,
            "embedding_dim": embedding_dim, "vectorized_input": vectorized_input, "label": label,
            "sparse_optimizer": sparse_optimizer,
            "result_file": str(result_file),
        }
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "recnotes.scale", json.dumps(spec)], env=env)
        if result_file.is_file():
            result = json.loads(result_file.read_text())
            result_file.unlink()
        else:
            result = {"label": label, "status": "failed", "error": f"the process exited with status {proc.returncode}"}
        result["process_s"] = time.perf_counter() - start
        results.append(result)
        if n is not None and not keep_data:
            shutil.rmtree(folder, ignore_errors=True)
        _write(output, with_ratios(results), meta)
        if result.get("status", "ok") != "ok":
            log(f"  {label}: failed: {result.get('error')}")
    if not keep_data and (output / "data").is_dir() and not any((output / "data").iterdir()):
        (output / "data").rmdir()
    log("")
    log(scale_markdown(results, meta))
    log(f"scale.md and scale.json are in {output}")
    return results


def main_scale(args) -> int:
    """The ``scale`` sub-command (see ``python -m recnotes scale --help``)."""
    sizes = args.sizes if args.sizes is not None else ([] if args.data_dir else list(DEFAULT_SIZES))
    try:
        results = run_scale(
            sizes, args.data_dir or (), args.output, seed=args.seed, batch_size=args.batch_size,
            embedding_dim=args.embedding_dim, vectorized_input=args.vectorized_input, keep_data=args.keep_data,
            sparse_optimizer=args.sparse_optimizer,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(r.get("status", "ok") == "ok" for r in results) else 1


def _child(spec_json: str) -> int:
    """One size in this (fresh) process: ``python -m recnotes.scale SPEC``, writing the result file."""
    spec = json.loads(spec_json)
    result_file = pathlib.Path(spec.pop("result_file"))
    folder = spec.pop("folder")
    try:
        result = measure(folder, **spec, log=lambda line: print(line, flush=True))
        result["status"] = "ok"
    except Exception as exc:  # reported in the table; the other sizes still run
        traceback.print_exc()
        result = {"label": spec["label"], "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    result_file.write_text(json.dumps(result))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
