"""Pointwise losses from logits: binary and softmax cross-entropy."""

from __future__ import annotations

import keras
from keras import ops

from recnotes.losses.masking import unmasked

__all__ = ["BinaryCrossEntropy", "SoftmaxCrossEntropy"]


@keras.saving.register_keras_serializable(package="recnotes")
class BinaryCrossEntropy(keras.losses.Loss):
    """Pointwise binary cross-entropy on logits: every (user, item) score is a yes/no guess.

    For a label ``y`` in {0, 1} (or a probability) and a logit ``z``::

        l(y, z) = -y log sigma(z) - (1 - y) log(1 - sigma(z))
                = softplus(z) - y z            (computed stably)

    ``softplus(z) = max(z, 0) + log(1 + exp(-|z|))`` stays finite for logits
    of any size, and so does its gradient ``sigma(z) - y``.

    Shapes: ``y_true`` and ``y_pred`` ``[B, L]`` (or ``[B]``); a row's loss
    is the mean over its entries, leaving out entries masked as accidental
    hits (logit ``-1e9``, see :mod:`recnotes.losses.retrieval`). Reduction over the batch: Keras'
    ``"sum_over_batch_size"`` (the mean), unless another ``reduction`` is given.
    """

    def __init__(self, name: str = "binary_cross_entropy", reduction: str = "sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        z = ops.cast(y_pred, "float32")
        y = ops.cast(y_true, "float32")
        per_entry = ops.softplus(z) - y * z
        if len(per_entry.shape) < 2:
            return per_entry
        keep = unmasked(z)
        return ops.sum(per_entry * keep, axis=-1) / ops.maximum(ops.sum(keep, axis=-1), 1.0)


@keras.saving.register_keras_serializable(package="recnotes")
class SoftmaxCrossEntropy(keras.losses.Loss):
    """Softmax cross-entropy on logits: the positive competes with every other column.

    For a row of logits ``z`` (``[L]``) and labels ``y`` (one-hot, or a
    probability distribution)::

        l(y, z) = -sum_j y_j log softmax(z)_j = (sum_j y_j) logsumexp(z) - sum_j y_j z_j

    (``-log softmax`` through logsumexp: finite for logits of any size). With
    in-batch negatives, ``z`` is a row of the ``[B, B]`` score matrix and ``y``
    the identity's row (:class:`~recnotes.losses.InBatchSoftmax`).

    Shapes: ``y_true``, ``y_pred`` ``[B, L]``; one loss per row. Reduction:
    Keras' ``"sum_over_batch_size"`` (mean over rows) by default.
    """

    def __init__(self, name: str = "softmax_cross_entropy", reduction: str = "sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        z = ops.cast(y_pred, "float32")
        y = ops.cast(y_true, "float32")
        return ops.sum(y, axis=-1) * ops.logsumexp(z, axis=-1) - ops.sum(y * z, axis=-1)
