"""Command line: ``python -m recnotes run [NOTEBOOK ...] [-p NAME VALUE ...]``, ``sweep``, ``bench`` and ``scale``."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recnotes", description="recnotes notebooks and experiments")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="execute notebooks with papermill into an output folder and summarize their metrics",
        description=(
            "Execute notebooks through papermill into OUTPUT (default runs/<timestamp>/), never in place. "
            "Values of -p are Python literals (3, 0.1, [1, 3], True) or plain text for text parameters."
        ),
    )
    run.add_argument("notebooks", nargs="*", help="notebook paths or names (e.g. 00_quickstart or 00); default: all")
    run.add_argument(
        "-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="set a parameter of the notebooks' 'parameters' cell (repeatable)",
    )
    run.add_argument("-o", "--output", help="output folder (default runs/<timestamp>/)")
    run.add_argument("--notebook-dir", default="notebooks", help="where notebooks are looked up (default notebooks/)")
    sweep = sub.add_parser(
        "sweep",
        help="run one notebook over a grid of parameter values (papermill) and tabulate its metrics",
        description=(
            "Execute NOTEBOOK once per combination of the -g values, each into OUTPUT/point-NNN.ipynb, "
            "and write OUTPUT/sweep.csv and sweep.md (one row per grid point and recorded model). "
            "Names and types are checked against the notebook's parameters cell before anything runs; "
            "a failed point is reported in the table and the others still run."
        ),
    )
    sweep.add_argument("notebook", help="the notebook to sweep, e.g. notebooks/sweeps/train_two_tower.ipynb")
    sweep.add_argument(
        "-g", "--grid", nargs="+", action="append", metavar="NAME VALUE",
        help="a swept parameter and its values, e.g. -g learning_rate 0.05 0.1 0.2 (repeatable)",
    )
    sweep.add_argument(
        "-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="a fixed parameter for every point (repeatable)",
    )
    sweep.add_argument("-o", "--output", required=True, help="new or empty output folder")
    bench = sub.add_parser(
        "bench",
        help="every recnotes model and live reference libraries on the benchmark protocol, with speed ratios",
        description=(
            "Train and score every recnotes model (the configurations its notebook selected on validation) and the "
            "reference rows computed live by MostPop (numpy), implicit ALS/BPR and TensorFlow Recommenders (its own "
            "process); measure training and evaluation speed side by side. Writes OUTPUT/bench.md and bench.json. "
            "The references need requirements-bench.txt (make bench installs it)."
        ),
    )
    bench.add_argument("--data-dir", default="data/ml-latest-small", help="a MovieLens-format folder")
    bench.add_argument("--models", nargs="*", help="recnotes models to run (default all; none: --models)")
    bench.add_argument("--references", nargs="*", help="references to run (default all; none: --references)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--quick", action="store_true", help="1 epoch per model: a smoke run, not a benchmark")
    bench.add_argument("--compare", metavar="OLD.json", help="check that every metric repeats an earlier bench.json")
    bench.add_argument("-o", "--output", help="new or empty output folder (default runs/bench-<timestamp>/)")
    scale = sub.add_parser(
        "scale",
        help="time loading, splitting and one training epoch on synthetic MovieLens data of growing size",
        description=(
            "For each size, in a fresh process: write a synthetic MovieLens folder (recnotes.synthetic), then "
            "time load_movielens, chrono_split, the evaluator and one two-tower epoch, and record peak memory. "
            "Writes OUTPUT/scale.md and scale.json (one row per size; time per interaction relative to the "
            "smallest size)."
        ),
    )
    scale.add_argument(
        "--sizes", nargs="+", metavar="N",
        help="interactions per size (at least 225), e.g. 100k 1M 10M (the default, unless --data-dir is given)",
    )
    scale.add_argument(
        "--data-dir", action="append", metavar="PATH",
        help="also measure a MovieLens-format folder, e.g. ml-25m (repeatable; no generation)",
    )
    scale.add_argument("-o", "--output", help="new or empty output folder (default runs/<timestamp>/)")
    scale.add_argument("--seed", type=int, default=0, help="seed of the data and of training (default 0)")
    scale.add_argument("--batch-size", type=int, default=1024, help="training batch size (default 1024)")
    scale.add_argument("--embedding-dim", type=int, default=64, help="two-tower embedding dimension (default 64)")
    scale.add_argument(
        "--vectorized-input", action="store_true",
        help="train on interaction_dataset(vectorized=True) (default: the notebooks' whole-log shuffle buffer)",
    )
    scale.add_argument(
        "--sparse-optimizer", action="store_true",
        help="train with recnotes.optimizers.SparseAdagrad (Adagrad on the batch's rows only; default: Keras Adagrad)",
    )
    scale.add_argument(
        "--keep-data", action="store_true",
        help="keep the generated folders in OUTPUT/data/ (default: delete each after it was measured)",
    )
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        from recnotes.runner import main_run

        return main_run(args)
    if args.command == "sweep":
        from recnotes.sweep import main_sweep

        return main_sweep(args)
    if args.command == "bench":
        from recnotes.bench.run import main_bench

        return main_bench(args)
    if args.command == "scale":
        from recnotes.scale import main_scale

        return main_scale(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
