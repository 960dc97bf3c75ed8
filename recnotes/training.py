"""Helpers around ``model.fit``: seeding and throughput."""

from __future__ import annotations

import os
import time

import keras
import numpy as np

__all__ = ["set_seed", "Throughput"]


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
