"""Pairwise losses: a positive must outscore each negative of its row."""

from __future__ import annotations

import keras
from keras import ops

from recnotes.losses.masking import unmasked

__all__ = ["PairwiseHinge", "BPR"]


def _positive_minus_negatives(y_true, y_pred):
    """``d[b, j] = s_pos(b) - s[b, j]`` and the mask of negatives ``y[b, j] == 0``.

    Each row has exactly one positive (one-hot labels), as with sampled or
    in-batch negatives; its score is ``sum_j y[b, j] s[b, j]``.  Columns
    masked as accidental hits (logit ``-1e9``) are not negatives.
    """
    s = ops.cast(y_pred, "float32")
    y = ops.cast(y_true, "float32")
    positive = ops.sum(y * s, axis=-1, keepdims=True)
    return positive - s, (1.0 - y) * unmasked(s)


def _mean_over_negatives(per_pair, negatives):
    return ops.sum(per_pair * negatives, axis=-1) / ops.maximum(ops.sum(negatives, axis=-1), 1.0)


@keras.saving.register_keras_serializable(package="recnotes")
class PairwiseHinge(keras.losses.Loss):
    """Margin ranking (pairwise hinge) loss.

    For a row with positive score ``s+`` and negatives ``s-_j``::

        l = mean_j max(0, margin - (s+ - s-_j))

    A pair stops contributing (zero gradient) once the positive leads by the
    margin: hinge "stops pushing", unlike :class:`BPR`.

    Shapes: ``y_true`` one-hot ``[B, L]`` (one positive per row), ``y_pred``
    scores ``[B, L]``; e.g. ``[[1, 0]]`` and ``[[s+, s-]]`` for one sampled
    negative. Reduction: the mean over a row's negatives, then Keras'
    ``"sum_over_batch_size"`` (mean over rows).

    Args:
      margin: the lead a positive needs over a negative.
    """

    def __init__(self, margin: float = 1.0, name: str = "pairwise_hinge", reduction: str = "sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        d, negatives = _positive_minus_negatives(y_true, y_pred)
        return _mean_over_negatives(ops.relu(self.margin - d), negatives)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="recnotes")
class BPR(keras.losses.Loss):
    """Bayesian Personalized Ranking loss (Rendle et al., UAI 2009).

    For score differences ``d_j = s+ - s-_j``::

        l = mean_j -log sigma(d_j) = mean_j softplus(-d_j)

    computed as ``softplus(-d)``, which is finite with a finite gradient
    ``-sigma(-d)`` for any ``d``; the naive ``-log(sigmoid(d))`` gives ``inf``
    (and a NaN gradient) once ``sigmoid(d)`` underflows, around ``d < -88`` in
    float32. BPR never stops pushing: the gradient only decays as ``d`` grows.

    Shapes and reduction as :class:`PairwiseHinge`.
    """

    def __init__(self, name: str = "bpr", reduction: str = "sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        d, negatives = _positive_minus_negatives(y_true, y_pred)
        return _mean_over_negatives(ops.softplus(-d), negatives)
