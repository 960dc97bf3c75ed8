"""Helpers around ``model.fit``: seeding and throughput."""

from __future__ import annotations

import dataclasses
import os
import time

import keras
import numpy as np

__all__ = ["set_seed", "Throughput", "MarginSatisfied", "TrainingRun", "fit_two_tower"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, so a run repeats its numbers.

    Also sets ``PYTHONHASHSEED`` for subprocesses.  On CPU this makes
    training repeat exactly; some GPU kernels stay nondeterministic unless
    ``tf.config.experimental.enable_op_determinism()`` is called too.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(int(seed))


class Throughput(keras.callbacks.Callback):
    """Records training examples per second for every epoch.

    examples/s of an epoch = examples seen in the epoch / its wall-clock
    seconds.  The first epoch includes tracing and graph building, so
    :attr:`steady_examples_per_second` is the median over the later epochs.

    Args:
      examples_per_epoch: rows in one pass over the training data.
    """

    def __init__(self, examples_per_epoch: int):
        super().__init__()
        self.examples_per_epoch = int(examples_per_epoch)
        self.epoch_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._start)

    @property
    def examples_per_second(self) -> list[float]:
        return [self.examples_per_epoch / s for s in self.epoch_seconds]

    @property
    def steady_examples_per_second(self) -> float:
        rates = self.examples_per_second
        return float(np.median(rates[1:] if len(rates) > 1 else rates)) if rates else float("nan")

    def __repr__(self) -> str:
        return (
            f"Throughput(epochs={len(self.epoch_seconds)}, "
            f"steady={self.steady_examples_per_second:,.0f} examples/s)"
        )


class MarginSatisfied(keras.callbacks.Callback):
    """Per epoch: share of (positive, in-batch negative) pairs that lead by ``margin``.

    On a fixed probe batch, after every epoch, with ``d = s+ - s-`` over the
    probe's in-batch pairs (logits from ``model.in_batch_logits``)::

        fraction = mean over pairs of [d >= margin]

    These pairs give a pairwise hinge loss with that margin zero gradient:
    the fraction is how much of the batch hinge has stopped learning from.

    Args:
      probe: one batch dict (``{"user": ..., "item": ...}``) as the model takes it.
      margin: the hinge margin.
    """

    def __init__(self, probe: dict, margin: float = 1.0):
        super().__init__()
        self.probe = probe
        self.margin = float(margin)
        self.fractions: list[float] = []

    def measure(self) -> float:
        """The fraction now (in-batch pairs only; masked accidental hits left out)."""
        from recnotes.losses.masking import MASK_LOGIT

        logits, labels = self.model.in_batch_logits(self.probe, uniform_negatives=False)
        s = keras.ops.convert_to_numpy(logits)
        y = keras.ops.convert_to_numpy(labels).astype(bool)
        positive = s[y][:, None]  # one positive per row
        negatives = s[~y].reshape(len(s), -1)
        valid = negatives > MASK_LOGIT / 2
        if not valid.any():
            return float("nan")
        return float(np.mean((positive - negatives >= self.margin)[valid]))

    def on_epoch_end(self, epoch, logs=None):
        self.fractions.append(self.measure())


@dataclasses.dataclass
class TrainingRun:
    """What :func:`fit_two_tower` returns: the model, its History and its Throughput."""

    model: keras.Model
    history: keras.callbacks.History
    throughput: Throughput

    def __repr__(self) -> str:
        losses = self.history.history.get("loss", [])
        last = f"{losses[-1]:.4f}" if losses else "n/a"
        return f"TrainingRun(epochs={len(losses)}, final_loss={last}, {self.throughput!r})"


def fit_two_tower(
    train,
    evaluator,
    *,
    epochs: int,
    batch_size: int = 1024,
    embedding_dim: int = 64,
    learning_rate: float = 0.1,
    seed: int = 0,
    temperature: float = 1.0,
    retrieval_loss=None,
    logq: bool = False,
    num_uniform_negatives: int = 0,
    remove_accidental_hits: bool = False,
    callbacks=(),
    verbose: int = 0,
) -> TrainingRun:
    """Seed, build and train a :class:`~recnotes.models.TwoTowerModel` on ``train`` rows.

    Ids are encoded with the evaluator's encoders (so the model's rows and
    columns line up with the evaluator's score matrix); the input pipeline is
    :func:`~recnotes.pipeline.interaction_dataset` (reshuffled every epoch);
    the optimizer is Adagrad with its accumulator starting near zero.

    Args:
      train: the training rows (``userId``, ``movieId``).
      evaluator: a :class:`~recnotes.evaluation.FullRankingEvaluator`.
      logq: feed each row's item share of ``train`` as its sampling
        probability, for the logQ correction.
      Others: as in :class:`~recnotes.models.TwoTowerModel`.
    """
    from recnotes.models import TwoTowerModel
    from recnotes.pipeline import interaction_dataset
    from recnotes.sampling import item_frequencies

    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2: in-batch negatives need other rows, got {batch_size}")
    if logq and num_uniform_negatives:
        raise ValueError("logq=True is not combined with num_uniform_negatives; choose one")

    set_seed(seed)
    users = evaluator.user_encoder.transform(train.userId.to_numpy())
    items = evaluator.item_encoder.transform(train.movieId.to_numpy())
    num_items = len(evaluator.item_encoder)
    probability = item_frequencies(items, num_items)[items] if logq else None
    dataset = interaction_dataset(users, items, batch_size=batch_size, seed=seed, item_probability=probability)
    model = TwoTowerModel(
        num_users=len(evaluator.user_encoder),
        num_items=num_items,
        embedding_dim=embedding_dim,
        temperature=temperature,
        remove_accidental_hits=remove_accidental_hits,
        seed=seed,
        retrieval_loss=retrieval_loss,
        num_uniform_negatives=num_uniform_negatives,
    )
    model.compile(optimizer=keras.optimizers.Adagrad(learning_rate, initial_accumulator_value=1e-7))
    throughput = Throughput(len(users))
    history = model.fit(dataset, epochs=epochs, verbose=verbose, callbacks=[throughput, *callbacks])
    return TrainingRun(model, history, throughput)
