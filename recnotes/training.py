"""Helpers around ``model.fit``: seeding, throughput, per-epoch validation, LR range test."""

from __future__ import annotations

import dataclasses
import os
import time

import keras
import numpy as np

__all__ = [
    "set_seed",
    "Throughput",
    "MarginSatisfied",
    "EpochEvaluation",
    "LearningRateRangeTest",
    "catalog_cross_entropy",
    "steps_per_epoch",
    "TrainingRun",
    "fit_two_tower",
    "fit_and_score_two_tower",
]


def set_seed(seed: int, deterministic: bool | str = "auto") -> None:
    """Seed Python, NumPy, TensorFlow and Keras, so a run repeats its numbers.

    Also sets ``PYTHONHASHSEED`` for subprocesses.  On a CPU that is enough:
    the same seed gives the same weights and metrics, run after run (a test
    trains the two-tower twice in two processes and compares).  Some GPU
    kernels (atomic adds in gathers' gradients, cuDNN autotuning) are
    nondeterministic, so ``deterministic="auto"`` also calls
    ``tf.config.experimental.enable_op_determinism()`` when a GPU is visible
    (``True``: always, ``False``: never).  Keras then runs without XLA
    (``jit_compile="auto"`` turns it off under op determinism), a little slower.

    Raises ValueError, before anything is set, unless ``seed`` is an integer
    (Python or NumPy, not a bool) in ``[0, 2**32 - 1]`` (the range of
    ``PYTHONHASHSEED`` and of NumPy's seeds) and ``deterministic`` is
    ``True``, ``False`` or ``"auto"`` (``1`` or ``"yes"`` are not).
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= 2**32 - 1:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1] (not a bool), got {seed!r}")
    if not (isinstance(deterministic, bool) or (isinstance(deterministic, str) and deterministic == "auto")):
        raise ValueError(f"deterministic must be True, False or 'auto', got {deterministic!r}")
    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)
    if deterministic is True or (deterministic == "auto" and _gpu_visible()):
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _gpu_visible() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


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


class EpochEvaluation(keras.callbacks.Callback):
    """Scores the model by the protocol before training and after every epoch.

    For learning curves on the validation split: ``evaluator`` is a
    :class:`~recnotes.evaluation.FullRankingEvaluator` (``on="validation"``)
    and the model has ``score_all_items(users)``.  :attr:`table` holds one
    row per epoch (0 = before training) with ``Recall@k``, ``NDCG@k`` and the
    epoch's mean training loss.

    Args:
      evaluator: the evaluator to score with.
      k: the cut-off.
    """

    def __init__(self, evaluator, k: int = 20):
        super().__init__()
        if isinstance(k, bool) or int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.evaluator = evaluator
        self.k = int(k)
        self.rows: list[dict] = []

    def _measure(self, epoch: int, loss) -> None:
        scores = lambda users: self.model.score_all_items(users)  # noqa: E731
        table = self.evaluator.evaluate(scores, ks=[self.k], auc=False)
        self.rows.append(
            {
                "epoch": epoch,
                "loss": float("nan") if loss is None else float(loss),
                f"Recall@{self.k}": float(table.loc[self.k, "Recall"]),
                f"NDCG@{self.k}": float(table.loc[self.k, "NDCG"]),
            }
        )

    def on_train_begin(self, logs=None):
        if getattr(self, "_measured_model", None) is not self.model:  # a new model: a new curve
            self.rows = []
            self._measured_model = self.model
        if not self.rows:
            self._measure(0, None)

    def on_epoch_end(self, epoch, logs=None):
        self._measure(len(self.rows), (logs or {}).get("loss"))

    @property
    def table(self):
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("epoch")

    def __repr__(self) -> str:
        if not self.rows:
            return f"EpochEvaluation(k={self.k}, epochs=0)"
        last = self.rows[-1]
        return f"EpochEvaluation(k={self.k}, epochs={last['epoch']}, Recall@{self.k}={last[f'Recall@{self.k}']:.4f})"


class LearningRateRangeTest(keras.callbacks.Callback):
    """Smith's learning-rate range test: raise the LR every step, record the loss.

    At step ``t = 0 .. num_steps - 1`` the optimizer's learning rate is::

        lr_t = min_lr * (max_lr / min_lr) ** (t / (num_steps - 1))

    (evenly spaced on a log scale).  After each step the batch's loss is
    recorded; Keras reports the running mean ``m_t`` of the epoch, so the
    batch loss is recovered as ``t * m_t - (t - 1) * m_{t-1}`` (exact for
    equal-size batches: build the dataset with ``drop_remainder=True``).
    Training stops when the exponentially smoothed loss exceeds
    ``stop_factor`` times the lowest smoothed loss so far (divergence) or
    after ``num_steps`` steps.  A good learning rate is read off the plot:
    a little below the one where the loss falls fastest, well below the
    divergence point.

    Args:
      min_lr, max_lr: the range, ``0 < min_lr < max_lr``.
      num_steps: steps to spread the range over (>= 2).
      stop_factor: divergence threshold on the smoothed loss.
      smoothing: weight ``beta`` of the moving average
        ``s_t = beta * s_{t-1} + (1 - beta) * loss_t`` (bias-corrected).
    """

    def __init__(self, min_lr: float, max_lr: float, num_steps: int, stop_factor: float = 4.0, smoothing: float = 0.9):
        super().__init__()
        if not (0 < min_lr < max_lr < float("inf")):
            raise ValueError(f"need 0 < min_lr < max_lr < inf, got min_lr={min_lr}, max_lr={max_lr}")
        if not (1 < stop_factor < float("inf")):
            raise ValueError(f"stop_factor must be a finite number > 1, got {stop_factor}")
        if int(num_steps) != num_steps or num_steps < 2:
            raise ValueError(f"num_steps must be an integer >= 2, got {num_steps!r}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.min_lr, self.max_lr, self.num_steps = float(min_lr), float(max_lr), int(num_steps)
        self.stop_factor, self.smoothing = float(stop_factor), float(smoothing)
        self.learning_rates: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []

    def learning_rate_at(self, step: int) -> float:
        return self.min_lr * (self.max_lr / self.min_lr) ** (step / (self.num_steps - 1))

    def on_train_begin(self, logs=None):
        self._step, self._running, self._avg, self._best = 0, 0.0, 0.0, float("inf")

    def on_epoch_begin(self, epoch, logs=None):
        self._batch, self._running = 0, 0.0

    def on_train_batch_begin(self, batch, logs=None):
        lr = self.learning_rate_at(min(self._step, self.num_steps - 1))
        self.model.optimizer.learning_rate.assign(lr)
        self.learning_rates.append(lr)

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        self._batch += 1
        loss = self._batch * mean - (self._batch - 1) * self._running
        self._running = mean
        self.losses.append(loss)
        self._step += 1
        self._avg = self.smoothing * self._avg + (1 - self.smoothing) * loss
        smooth = self._avg / (1 - self.smoothing**self._step)
        self.smoothed.append(smooth)
        self._best = min(self._best, smooth)
        if self._step >= self.num_steps or not np.isfinite(loss) or smooth > self.stop_factor * self._best:
            self.model.stop_training = True

    @property
    def suggestion(self) -> float:
        """The LR of the steepest fall of the smoothed loss, divided by 10 (a cautious pick)."""
        smoothed = np.asarray(self.smoothed, dtype=np.float64)
        finite = int(np.argmin(np.isfinite(smoothed))) if not np.isfinite(smoothed).all() else len(smoothed)
        if finite < 3:  # the finite prefix, before any NaN/inf of a diverged run
            return float("nan")
        log_lr = np.log(self.learning_rates[:finite])
        slope = np.gradient(smoothed[:finite], log_lr)
        return float(self.learning_rates[int(np.argmin(slope))] / 10)

    def __repr__(self) -> str:
        return (
            f"LearningRateRangeTest({self.min_lr:g} -> {self.max_lr:g}, steps={len(self.losses)}/{self.num_steps})"
        )


def catalog_cross_entropy(score_fn, users, items, temperature: float = 1.0, batch_size: int = 2048) -> float:
    """Mean full-catalog softmax cross-entropy of (user, item) rows, in float64.

    ``-1/N * sum_n log softmax(s(u_n, .) / T)[i_n]`` over all items: unlike
    the in-batch loss, whose chance level is ``log(batch size)``, it does
    not depend on the batch size, so it compares runs with different batch
    sizes, and train vs validation rows (the generalization gap).

    Args:
      score_fn: ``users -> [len(users), n_items]`` scores (``model.score_all_items``).
      users, items: ``[N]`` encoded indices.
      temperature: the model's softmax temperature.
    """
    from scipy.special import logsumexp

    users, items = np.asarray(users), np.asarray(items)
    if users.shape != items.shape or users.ndim != 1 or len(users) == 0:
        raise ValueError(f"users and items must be 1-D, non-empty and of equal length, got {users.shape} and {items.shape}")
    if users.dtype.kind not in "iu" or items.dtype.kind not in "iu" or users.min() < 0 or items.min() < 0:
        raise ValueError("users and items must be non-negative integer indices")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    total = 0.0
    for start in range(0, len(users), batch_size):
        u, i = users[start : start + batch_size], items[start : start + batch_size]
        logits = np.asarray(score_fn(u), dtype=np.float64) / temperature
        if logits.ndim != 2 or logits.shape[0] != len(u) or i.max() >= logits.shape[1]:
            raise ValueError(
                f"score_fn returned shape {list(logits.shape)} for {len(u)} users; expected [{len(u)}, n_items] "
                f"with n_items > the largest item index {int(i.max())}"
            )
        if not np.isfinite(logits).all():
            raise ValueError("score_fn returned NaN or infinite scores (a diverged model?)")
        total += float(np.sum(logsumexp(logits, axis=1) - logits[np.arange(len(u)), i]))
    return total / len(users)


def steps_per_epoch(rows: int, batch_size: int, drop_remainder: bool = False) -> int:
    """``ceil(rows / batch_size)`` (``floor`` when the last, smaller batch is dropped)."""
    for name, value, low in (("rows", rows, 0), ("batch_size", batch_size, 1)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return rows // batch_size if drop_remainder else -(-rows // batch_size)


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
    shuffle: bool | str = True,
    shuffle_buffer: int | None = None,
    callbacks=(),
    verbose: int = 0,
    strategy=None,
    steps_per_execution: int = 1,
    vectorized_input: bool = False,
    optimizer: str = "adagrad",
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
      shuffle, shuffle_buffer: how rows are ordered each epoch (see
        :func:`~recnotes.pipeline.interaction_dataset`); with
        ``shuffle=False`` batches follow the order of ``train``.
      strategy: a ``tf.distribute.Strategy`` (e.g. ``MirroredStrategy``) or
        ``None``; in-batch negatives are then per replica (see
        :func:`~recnotes.models.fitting.fit_retrieval_model`).
      steps_per_execution, vectorized_input: speed settings (see
        :func:`~recnotes.models.fitting.fit_retrieval_model`).
      optimizer: ``"adagrad"`` or ``"sparse_adagrad"`` (the same update on
        the batch's rows only, :class:`~recnotes.optimizers.SparseAdagrad`:
        faster for large tables); ``"adam"`` works too.
      Others: as in :class:`~recnotes.models.TwoTowerModel`.

    The training arguments are checked by
    :func:`~recnotes.models.fitting.fit_retrieval_model` before the model
    is built.
    """
    from recnotes.models import TwoTowerModel
    from recnotes.models.fitting import fit_retrieval_model

    if logq and num_uniform_negatives:
        raise ValueError("logq=True is not combined with num_uniform_negatives; choose one")

    def build():
        model = TwoTowerModel(
            num_users=len(evaluator.user_encoder),
            num_items=len(evaluator.item_encoder),
            embedding_dim=embedding_dim,
            temperature=temperature,
            remove_accidental_hits=remove_accidental_hits,
            seed=seed,
            retrieval_loss=retrieval_loss,
            num_uniform_negatives=num_uniform_negatives,
        )
        model.build()
        return model

    return fit_retrieval_model(
        build, train, evaluator, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        optimizer=optimizer, seed=seed, logq=logq, shuffle=shuffle, shuffle_buffer=shuffle_buffer,
        callbacks=callbacks, verbose=verbose, strategy=strategy,
        steps_per_execution=steps_per_execution, vectorized_input=vectorized_input,
    )


def fit_and_score_two_tower(train, evaluator, *, k: int = 20, probe_rows: int = 5000, **fit_kwargs) -> dict:
    """Train with :func:`fit_two_tower` and return the numbers a sweep compares.

    ``evaluator`` is usually on the validation split (tuning never looks at
    test).  Returns a flat dict:

    * ``Recall@k``, ``NDCG@k``: the evaluator's metrics;
    * ``train_loss``: the last epoch's mean in-batch loss (its chance level
      is ``log(batch_size)``, so compare it between equal batch sizes only);
    * ``train_ce``, ``heldout_ce``: :func:`catalog_cross_entropy` on
      ``probe_rows`` random train rows and on the evaluator's held-out rows,
      and ``generalization_gap = heldout_ce - train_ce`` (comparable across
      batch sizes);
    * ``examples_per_second``: steady training throughput.
    """
    if isinstance(probe_rows, bool) or int(probe_rows) != probe_rows or probe_rows < 1:
        raise ValueError(f"probe_rows must be a positive integer, got {probe_rows!r}")
    run = fit_two_tower(train, evaluator, **fit_kwargs)
    table = evaluator.evaluate(run.model.score_all_items, ks=[k], auc=False)
    seed = fit_kwargs.get("seed", 0)
    rows = np.random.default_rng(seed).permutation(len(train))[:probe_rows]
    train_users = evaluator.user_encoder.transform(train.userId.to_numpy()[rows])
    train_items = evaluator.item_encoder.transform(train.movieId.to_numpy()[rows])
    held = evaluator.relevant.tocoo()
    temperature = fit_kwargs.get("temperature", 1.0)
    train_ce = catalog_cross_entropy(run.model.score_all_items, train_users, train_items, temperature)
    heldout_ce = catalog_cross_entropy(run.model.score_all_items, held.row, held.col, temperature)
    return {
        f"Recall@{k}": float(table.loc[k, "Recall"]),
        f"NDCG@{k}": float(table.loc[k, "NDCG"]),
        "train_loss": float(run.history.history["loss"][-1]),
        "train_ce": train_ce,
        "heldout_ce": heldout_ce,
        "generalization_gap": heldout_ce - train_ce,
        "examples_per_second": run.throughput.steady_examples_per_second,
    }
