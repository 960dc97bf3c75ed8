"""Reference rows computed live by independent libraries (benchmarking only).

* MostPop: train counts with ``numpy.bincount`` (no recnotes model code);
* implicit's ALS (64 factors, reg 0.05, 20 iterations) and BPR (64 factors,
  lr 0.01, 200 iterations), the protocol's settings;
* TensorFlow Recommenders' two-tower (ids, dim 64, in-batch softmax,
  Adagrad 0.1, batch 1024, 30 epochs) in a subprocess with Keras 2
  (:mod:`recnotes.bench.tfrs_worker`).

Install them with ``pip install -r requirements-bench.txt``; each function
raises :class:`MissingReference` with that hint when its library is absent.
Every reference is scored by the same :class:`~recnotes.evaluation.FullRankingEvaluator`.
implicit runs single-threaded (``num_threads=1``): its multi-threaded BPR is
Hogwild SGD, whose result changes from run to run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from recnotes.bench.models import Fitted, ModelSpec, vector_scores

__all__ = ["MissingReference", "REFERENCES", "reference_names"]

INSTALL_HINT = "pip install -r requirements-bench.txt (or: make bench)"


class MissingReference(RuntimeError):
    """A reference library is not installed."""


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingReference(f"the reference needs the package {package!r}: {INSTALL_HINT}")


def mostpop_numpy(data) -> Fitted:
    start = time.perf_counter()
    _, items = data.train_indices
    counts = np.bincount(items, minlength=len(data.evaluator.item_encoder)).astype(np.float64)
    return Fitted(lambda users: np.broadcast_to(counts, (len(users), len(counts))), time.perf_counter() - start)


def _implicit(model_name: str, iterations: int, **options):
    def fit(data) -> Fitted:
        _require("implicit", "implicit")
        from threadpoolctl import threadpool_limits

        import implicit.cpu.als
        import implicit.cpu.bpr

        model_class = {"als": implicit.cpu.als.AlternatingLeastSquares,
                       "bpr": implicit.cpu.bpr.BayesianPersonalizedRanking}[model_name]
        n_iterations = 2 if data.quick else iterations
        model = model_class(factors=64, iterations=n_iterations, random_state=data.seed, num_threads=1, **options)
        with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, not OpenBLAS' pool
            start = time.perf_counter()
            model.fit(data.user_items, show_progress=False)
            seconds = time.perf_counter() - start
        users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)
        rate = n_iterations * data.user_items.nnz / seconds if model_name == "bpr" else float("nan")
        return Fitted(vector_scores(users, items), seconds, rate)

    return fit


def tfrs_two_tower(data, epochs: int = 30) -> Fitted:
    """TFRS two-tower in ``python -m recnotes.bench.tfrs_worker`` with ``TF_USE_LEGACY_KERAS=1``."""
    for module, package in (("tensorflow_recommenders", "tensorflow-recommenders"), ("tf_keras", "tf-keras")):
        _require(module, package)
    users, items = data.train_indices
    with tempfile.TemporaryDirectory(prefix="recnotes-tfrs-") as folder:
        inputs, outputs = pathlib.Path(folder, "input.npz"), pathlib.Path(folder, "output.npz")
        np.savez(inputs, users=users, items=items, num_users=len(data.evaluator.user_encoder),
                 num_items=len(data.evaluator.item_encoder), embedding_dim=64, batch_size=1024,
                 epochs=data.epochs(epochs), learning_rate=0.1, seed=data.seed)
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": str(data.seed)}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "recnotes.bench.tfrs_worker", str(inputs), str(outputs)],
                              env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"the TFRS worker failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        result = np.load(outputs)
        user_vectors, item_vectors = result["user_embeddings"], result["item_embeddings"]
        epoch_seconds = result["epoch_seconds"]
        versions = json.loads(str(result["versions"]))
    steady = np.median(epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds)
    return Fitted(vector_scores(user_vectors, item_vectors), seconds, len(users) / float(steady),
                  {"epoch_seconds": [round(float(s), 3) for s in epoch_seconds], "process_seconds": round(seconds, 2),
                   **versions})


REFERENCES = (
    ModelSpec("MostPop (numpy)", "train counts", "reference: numpy", mostpop_numpy),
    ModelSpec("implicit ALS", "64 factors, reg 0.05, 20 iterations, alpha 1", "reference: implicit",
              _implicit("als", 20, regularization=0.05, alpha=1.0)),
    ModelSpec("implicit BPR", "64 factors, lr 0.01, reg 0.01, 200 iterations", "reference: implicit",
              _implicit("bpr", 200, learning_rate=0.01, regularization=0.01)),
    ModelSpec("TFRS two-tower", "ids, dim 64, in-batch softmax (sum), Adagrad 0.1 (Keras 2 defaults), batch 1024, "
              "30 epochs", "reference: tensorflow-recommenders", tfrs_two_tower),
)

# The protocol's figures (../shared/benchmark-protocol.md), printed beside the live rows.
# They are for ml-latest-small only: a folder is that data set when its ratings.csv has this SHA-256
# (the bundled data/ml-latest-small/SHA256SUMS).
PROTOCOL_RATINGS_SHA256 = "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8"
PROTOCOL_RECALL_NDCG_20 = {
    "MostPop (numpy)": (0.0650, 0.0571),
    "implicit ALS": (0.1061, 0.0773),
    "implicit BPR": (0.0946, 0.0661),
    "TFRS two-tower": (0.0671, 0.0458),
}


def reference_names() -> list[str]:
    return [spec.name for spec in REFERENCES]
