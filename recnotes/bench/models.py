"""The recnotes models of the bench, each with the configuration its notebook selected.

Every entry trains on ``data.split.train`` with ``data.seed`` and returns a
:class:`Fitted`: a score function for the evaluator, the wall-clock training
time (tracing included) and the steady training throughput.  The
configurations are the ones the notebooks chose on the *validation* split
(notebook 02's learning-rate x batch grid for the ids two-tower, the grids of
08 and 09 for the feature models, 10's fanout grid for GraphSAGE); the test
split is only scored.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

__all__ = ["Fitted", "ModelSpec", "RECNOTES_MODELS", "model_names", "needs_movies_message", "vector_scores"]


@dataclasses.dataclass
class Fitted:
    """A trained model as the bench sees it."""

    scores: Callable[[np.ndarray], np.ndarray]  # user indices -> [len(users), n_items]
    train_seconds: float
    examples_per_second: float = float("nan")
    details: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One bench row: ``fit(data) -> Fitted``, with the words that describe it.

    ``needs_movies``: the model's item features come from ``movies.csv``
    (the bench refuses it before training when the folder has none).
    """

    name: str
    config: str
    source: str
    fit: Callable
    needs_movies: bool = False


def needs_movies_message(name: str, folder) -> str:
    """The error of a feature model on a folder without movies.csv."""
    return f"{name} needs movies.csv in {folder} for its item features (the folder has none)"


TUNED_STEPS_PER_EXECUTION = 32


def _timed(fit_call) -> tuple[object, float]:
    start = time.perf_counter()
    run = fit_call()
    return run, time.perf_counter() - start


def vector_scores(users: np.ndarray, items: np.ndarray):
    """``u -> users[u] @ items.T``: scores from embeddings computed once (no TensorFlow call per batch)."""
    return lambda u: users[np.asarray(u)] @ items.T


def _from_run(run, seconds: float, scores=None) -> Fitted:
    if scores is None:
        scores = vector_scores(run.model.user_vectors(), run.model.item_vectors())
    return Fitted(scores, seconds, run.throughput.steady_examples_per_second,
                  {"epoch_seconds": [round(s, 3) for s in run.throughput.epoch_seconds]})


def _mostpop(data) -> Fitted:
    from recnotes.evaluation import most_popular_scores

    start = time.perf_counter()
    table = most_popular_scores(data.split.train, data.evaluator)
    return Fitted(lambda users: table[users], time.perf_counter() - start)


def _two_tower(epochs: int, **options):
    def fit(data) -> Fitted:
        from recnotes.training import fit_two_tower

        run, seconds = _timed(lambda: fit_two_tower(
            data.split.train, data.evaluator, epochs=data.epochs(epochs), batch_size=1024, embedding_dim=64,
            learning_rate=0.1, seed=data.seed, **options))
        return _from_run(run, seconds)

    return fit


def _loss(name: str):
    from recnotes import losses

    return {"BPR": losses.BPR()}[name]


def _feature_model(kind: str, name: str):
    def fit(data) -> Fitted:
        from recnotes.models.feature_two_tower import FeatureTwoTowerModel
        from recnotes.models.fitting import fit_retrieval_model
        from recnotes.models.fm import FMRetrievalModel

        if data.movielens.movies is None:
            raise ValueError(needs_movies_message(name, data.movielens.path))
        users, items = data.feature_tables
        if kind == "FM":
            build = lambda: FMRetrievalModel(users, items, seed=data.seed)  # noqa: E731
        else:
            build = lambda: FeatureTwoTowerModel(  # noqa: E731
                users, items, hidden_units=[128], output_dim=64, temperature=0.1, senet=(kind == "SENet"),
                senet_reduction=2.0, seed=data.seed)
        run, seconds = _timed(lambda: fit_retrieval_model(
            build, data.split.train, data.evaluator, epochs=data.epochs(3), batch_size=1024, seed=data.seed,
            logq=True, optimizer="adam", learning_rate=0.003))
        return _from_run(run, seconds)

    return fit


def _graphsage(data) -> Fitted:
    from recnotes.models.graphsage import fit_graphsage

    run, seconds = _timed(lambda: fit_graphsage(
        data.split.train, data.evaluator, epochs=data.epochs(2), fanouts=[5, 3], batch_size=1024, embedding_dim=32,
        learning_rate=0.01, temperature=0.1, aggregator="mean", logq=True, seed=data.seed))
    return _from_run(run, seconds, scores=run.model.scorer(run.graph))


RECNOTES_MODELS = (
    ModelSpec("MostPop", "train counts", "00_quickstart", _mostpop),
    ModelSpec("two-tower", "ids, dim 64, in-batch softmax, Adagrad 0.1, batch 1024, 30 epochs; tuned input "
              f"(vectorized batches) and {TUNED_STEPS_PER_EXECUTION} steps per execution", "00_quickstart, 02",
              _two_tower(30, vectorized_input=True, steps_per_execution=TUNED_STEPS_PER_EXECUTION)),
    ModelSpec("two-tower, notebook input", "the same with the notebooks' input pipeline (per-row shuffle buffer) "
              "and one step per execution", "00_quickstart", _two_tower(30)),
    ModelSpec("two-tower + logQ", "the same with the logQ correction, 5 epochs", "06_in_batch_negatives",
              _two_tower(5, logq=True)),
    ModelSpec("two-tower, BPR", "the same with BPR over in-batch negatives, 5 epochs", "05_loss_functions",
              lambda data: _two_tower(5, retrieval_loss=_loss("BPR"))(data)),
    ModelSpec("FM", "id + genres + year + genre profile, dim 64, Adam 0.003, logQ, 3 epochs", "08_fm_vs_two_tower",
              _feature_model("FM", "FM"), needs_movies=True),
    ModelSpec("DNN two-tower", "same features, hidden [128], normalized, temperature 0.1, Adam 0.003, logQ, 3 epochs",
              "08_fm_vs_two_tower", _feature_model("DNN", "DNN two-tower"), needs_movies=True),
    ModelSpec("SENet two-tower", "the DNN two-tower with a SENet per tower (r = 2)", "09_senet",
              _feature_model("SENet", "SENet two-tower"), needs_movies=True),
    ModelSpec("GraphSAGE", "K=2, fanouts [5, 3], mean, dim 32, Adam 0.01, logQ, temperature 0.1, 2 epochs",
              "10_graphsage", _graphsage),
)


def model_names() -> list[str]:
    return [spec.name for spec in RECNOTES_MODELS]
