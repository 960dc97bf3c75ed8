"""``python -m recnotes bench``: every recnotes model and live reference libraries on the protocol.

* :mod:`recnotes.bench.models` — the recnotes models with the configurations
  their notebooks selected on the validation split;
* :mod:`recnotes.bench.references` — MostPop, implicit's ALS and BPR, and
  TensorFlow Recommenders' two-tower (in its own process), computed live;
* :mod:`recnotes.bench.speed` — the evaluation reference (a plain per-user
  loop) and the speed ratios;
* :mod:`recnotes.bench.run` — the table, its markdown and JSON, the command.

The reference libraries are for benchmarking only: ``requirements-bench.txt``
(``make bench`` installs it), not the kit's runtime requirements.
"""

from recnotes.bench.run import BenchResult, run_bench

__all__ = ["BenchResult", "run_bench"]
