"""Train any retrieval model on the protocol's train rows (seeded, with throughput)."""

from __future__ import annotations

import contextlib
import math
from typing import Callable

import keras
import numpy as np

from recnotes.pipeline import interaction_dataset
from recnotes.sampling import item_frequencies
from recnotes.training import Throughput, TrainingRun, set_seed

__all__ = ["OPTIMIZERS", "fit_retrieval_model"]

OPTIMIZERS = ("adagrad", "sparse_adagrad", "adam")


def _whole_number(name: str, value, low: int, rule: str) -> int:
    """``value`` as a Python int if it is an integer (or an integral float) >= ``low``; else ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    if isinstance(value, (float, np.floating)) and not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def fit_retrieval_model(
    build: Callable[[], keras.Model],
    train,
    evaluator,
    *,
    epochs: int,
    batch_size: int = 1024,
    learning_rate: float = 0.1,
    optimizer: str = "adagrad",
    seed: int = 0,
    logq: bool = True,
    shuffle: bool | str = True,
    shuffle_buffer: int | None = None,
    callbacks=(),
    verbose: int = 0,
    jit_compile="auto",
    strategy=None,
    steps_per_execution: int = 1,
    vectorized_input: bool = False,
) -> TrainingRun:
    """Seed, build and train a retrieval model on ``train`` rows, as :func:`~recnotes.training.fit_two_tower` does.

    ``build()`` is called after :func:`~recnotes.training.set_seed`, so the
    initial weights repeat.  Ids are encoded with the evaluator's encoders; the
    input is :func:`~recnotes.pipeline.interaction_dataset` (reshuffled every
    epoch) with each row's item share of ``train`` as ``item_probability``
    when ``logq``.

    Args:
      build: returns an uncompiled model taking ``{"user", "item"(, "item_probability")}``.
      train: the training rows (``userId``, ``movieId``).
      evaluator: a :class:`~recnotes.evaluation.FullRankingEvaluator`.
      optimizer: ``"adagrad"`` (Keras' Adagrad, accumulator starting at 1e-7),
        ``"sparse_adagrad"`` (:class:`~recnotes.optimizers.SparseAdagrad`, the
        same update on the embedding rows of the batch only: faster for large
        tables) or ``"adam"``.
      logq: apply the logQ correction in training.
      shuffle, shuffle_buffer: row order each epoch (see
        :func:`~recnotes.pipeline.interaction_dataset`).
      jit_compile: passed to ``model.compile`` (XLA).
      steps_per_execution: optimizer steps run inside one ``tf.function``
        call (``model.compile``): fewer Python round trips per epoch.
      vectorized_input: :func:`~recnotes.pipeline.interaction_dataset` with
        ``vectorized=True`` (one permutation per epoch, whole batches
        gathered; a different but equally uniform order).  With
        ``steps_per_execution`` the tuned setting of ``python -m recnotes bench``.
      strategy: a ``tf.distribute.Strategy`` to train under, e.g.
        ``tf.distribute.MirroredStrategy()`` (the GPUs of one machine;
        ``MultiWorkerMirroredStrategy`` over several machines fails inside
        Keras 3.15's ``fit``, see the README); ``None``: the default
        single-device training.  ``build()``, the optimizer and
        ``compile`` run inside ``strategy.scope()``, so every variable is
        mirrored on each replica; ``model.fit`` splits each global batch of
        ``batch_size`` rows into ``batch_size / R`` rows per replica (``R =
        strategy.num_replicas_in_sync``, which must divide ``batch_size``),
        averages the loss over the global batch (Keras divides each
        replica's mean loss by ``R``) and sums the gradients across replicas.
        In-batch negatives are per replica: each row is scored against the
        ``batch_size / R - 1`` other rows of its replica's share, not of the
        whole batch, so the reported training loss has chance level
        ``log(batch_size / R)``; keep ``batch_size / R`` as large as the
        negatives the model needs (raise ``batch_size`` with ``R``).  XLA is
        off under a strategy (``jit_compile="auto"``; ``True`` is refused).
        With more than one replica, ``steps_per_execution > 1`` is refused
        (it fails inside Keras 3.15's TensorFlow trainer), and so is a
        ``train`` of fewer rows than ``batch_size`` (its one partial batch
        fails inside Keras when it does not split evenly).

    Argument checks come before anything is built or trained: ``epochs``,
    ``batch_size`` (>= 2) and ``steps_per_execution`` must be integers
    (integral floats such as ``2.0`` are taken as ints), ``learning_rate``
    a positive finite number (NumPy scalars are taken as Python floats) and
    ``vectorized_input`` a bool; otherwise ValueError naming the argument.
    """
    batch_size = _whole_number("batch_size", batch_size, 2, "an integer >= 2 (in-batch negatives need other rows)")
    epochs = _whole_number("epochs", epochs, 1, "a positive integer")
    if (isinstance(learning_rate, (bool, np.bool_)) or not isinstance(learning_rate, (int, float, np.integer, np.floating))
            or not (math.isfinite(learning_rate) and learning_rate > 0)):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")
    learning_rate = float(learning_rate)
    steps_per_execution = _whole_number("steps_per_execution", steps_per_execution, 1, "a positive integer")
    if not isinstance(vectorized_input, (bool, np.bool_)):
        raise ValueError(f"vectorized_input must be True or False, got {vectorized_input!r}")
    vectorized_input = bool(vectorized_input)
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if strategy is not None:
        import tensorflow as tf

        if not isinstance(strategy, tf.distribute.Strategy):
            raise TypeError(f"strategy must be a tf.distribute.Strategy instance or None, got {strategy!r}")
        replicas = strategy.num_replicas_in_sync
        if batch_size % replicas or batch_size // replicas < 2:
            raise ValueError(
                f"batch_size must be a multiple of the {replicas} replicas with >= 2 rows per replica "
                f"(in-batch negatives are per replica), got {batch_size}"
            )
        if jit_compile is True and replicas > 1:  # "auto" already turns XLA off under a strategy
            raise ValueError("jit_compile=True does not work with a multi-replica strategy in Keras 3's TensorFlow "
                             "trainer (keras-team/keras#19005); leave jit_compile='auto' or set it False")
        if steps_per_execution > 1 and replicas > 1:
            raise ValueError(
                f"steps_per_execution={steps_per_execution} fails in Keras 3.15's TensorFlow trainer under a "
                f"multi-replica strategy ({replicas} replicas: 'You must feed a value for placeholder tensor'); "
                "use steps_per_execution=1 with a strategy"
            )
        if replicas > 1 and len(train) < batch_size:
            largest = len(train) // replicas * replicas
            raise ValueError(
                f"train has {len(train)} rows, fewer than batch_size={batch_size}: under a {replicas}-replica "
                "strategy its one partial batch fails inside Keras when it does not split evenly over the replicas; "
                f"use a smaller batch_size (a multiple of {replicas} at most {largest})"
            )
    set_seed(seed)
    users = evaluator.user_encoder.transform(train.userId.to_numpy())
    items = evaluator.item_encoder.transform(train.movieId.to_numpy())
    probability = item_frequencies(items, len(evaluator.item_encoder))[items] if logq else None
    dataset = interaction_dataset(
        users, items, batch_size=batch_size, seed=seed, item_probability=probability,
        shuffle=shuffle, shuffle_buffer=shuffle_buffer, vectorized=vectorized_input,
    )
    with strategy.scope() if strategy is not None else contextlib.nullcontext():  # variables on every replica
        model = build()
        if optimizer in ("adagrad", "sparse_adagrad"):
            from recnotes.optimizers import SparseAdagrad

            adagrad = SparseAdagrad if optimizer == "sparse_adagrad" else keras.optimizers.Adagrad
            opt = adagrad(learning_rate, initial_accumulator_value=1e-7)
        else:
            opt = keras.optimizers.Adam(learning_rate)
        model.compile(optimizer=opt, jit_compile=jit_compile, steps_per_execution=steps_per_execution)
        # Create the optimizer's slots now: otherwise the first step traces the train function twice
        # (once to create them), which costs several seconds per model on a CPU.
        model.optimizer.build(model.trainable_variables)
    throughput = Throughput(len(users))
    history = model.fit(dataset, epochs=epochs, verbose=verbose, callbacks=[throughput, *callbacks])
    return TrainingRun(model, history, throughput)
