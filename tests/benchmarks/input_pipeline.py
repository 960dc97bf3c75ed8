"""Benchmark (not a test): input pipeline variants vs the two-tower's training speed.

Run from the repository root:  .venv/bin/python tests/benchmarks/input_pipeline.py [--repeats 3]

Measures, side by side in one run on the bundled MovieLens training split,
the examples/s of each recnotes.preprocessing variant (median of the
repeats; cached variants are timed after one warm-up pass that fills the
cache) and of two-tower training on the tuned pipeline, then prints the two
ratios the project watches:

* tuned (vectorized_cache) / naive (python_generator) input throughput (goal >= 5x);
* tuned input throughput / two-tower training throughput (goal >= 3x: the input is not the bottleneck).
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from recnotes.data import load_movielens  # noqa: E402
from recnotes.evaluation import FullRankingEvaluator  # noqa: E402
from recnotes.pipeline import input_throughput  # noqa: E402
from recnotes.preprocessing import VARIANTS, FeatureTables, feature_dataset  # noqa: E402
from recnotes.splits import chrono_split  # noqa: E402
from recnotes.training import fit_two_tower  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data/ml-latest-small")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="two-tower epochs (the first is excluded)")
    args = parser.parse_args(argv)

    ml = load_movielens(args.data_dir)
    split = chrono_split(ml.ratings)
    tables = FeatureTables.from_frames(split.train, ml.movies)
    users, items = split.train.userId.to_numpy(), split.train.movieId.to_numpy()
    rates = {}
    for variant in VARIANTS:
        ds = feature_dataset(users, items, tables, args.batch_size, variant)
        if variant.endswith("cache"):
            input_throughput(ds)  # fill the cache
        rates[variant] = statistics.median(input_throughput(ds) for _ in range(args.repeats))
        print(f"{variant:>18}: {rates[variant]:>12,.0f} examples/s", flush=True)

    evaluator = FullRankingEvaluator.from_split(split)
    run = fit_two_tower(split.train, evaluator, epochs=args.epochs, batch_size=args.batch_size)
    training = run.throughput.steady_examples_per_second
    print(f"{'two-tower training':>18}: {training:>12,.0f} examples/s")
    tuned, naive = rates["vectorized_cache"], rates["python_generator"]
    print(f"\ntuned / naive input:            {tuned / naive:6.1f}x (goal >= 5x)")
    print(f"tuned input / training:         {tuned / training:6.1f}x (goal >= 3x)")
    return rates, training


if __name__ == "__main__":
    main()
