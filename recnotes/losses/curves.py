"""A loss and its gradient as a function of the score margin."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["margin_curve"]


def margin_curve(loss, margins, num_negatives: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Loss and d(loss)/d(margin) for one positive leading ``num_negatives`` negatives by ``d``.

    Each row is scores ``[d, 0, ..., 0]`` with the positive first, so the
    margin ``d = s+ - s-`` is the positive's score; the derivative is taken
    with respect to it.

    Args:
      loss: a Keras loss taking ``(labels [B, L], scores [B, L])``.
      margins: ``[M]`` values of ``d``.
      num_negatives: negatives per row (all at score 0).

    Returns:
      ``(loss [M], gradient [M])`` as float64 numpy arrays.
    """
    d = tf.Variable(np.asarray(margins, dtype=np.float32))
    labels = np.zeros((len(np.asarray(margins)), num_negatives + 1), dtype=np.float32)
    labels[:, 0] = 1.0
    with tf.GradientTape() as tape:
        scores = tf.concat([d[:, None], tf.zeros((tf.shape(d)[0], num_negatives))], axis=1)
        per_row = [loss(labels[i : i + 1], scores[i : i + 1]) for i in range(labels.shape[0])]
        values = tf.stack(per_row)
        total = tf.reduce_sum(values)
    return values.numpy().astype(np.float64), tape.gradient(total, d).numpy().astype(np.float64)
