"""Losses for recommender models, Keras 3 serializable, one class per loss.

* :mod:`~recnotes.losses.pointwise` — :class:`BinaryCrossEntropy`, :class:`SoftmaxCrossEntropy` (from logits).
* :mod:`~recnotes.losses.pairwise` — :class:`PairwiseHinge`, :class:`BPR`.
* :mod:`~recnotes.losses.retrieval` — the in-batch logits and their corrections
  (:func:`logq_correction`, :func:`remove_accidental_hits`) and
  :class:`InBatchSoftmax`, the two-tower's default loss.

The pointwise and pairwise losses are ``keras.losses.Loss`` objects with the
usual ``loss(y_true, y_pred, sample_weight)`` call: ``y_true`` are labels and
``y_pred`` scores (logits) of shape ``[B, L]``; each row's loss is reduced to
one number and the batch is averaged (Keras' ``"sum_over_batch_size"``,
stated in each docstring).
"""

from recnotes.losses.pairwise import BPR, PairwiseHinge
from recnotes.losses.pointwise import BinaryCrossEntropy, SoftmaxCrossEntropy
from recnotes.losses.retrieval import InBatchSoftmax, logq_correction, remove_accidental_hits

__all__ = [
    "BinaryCrossEntropy",
    "SoftmaxCrossEntropy",
    "PairwiseHinge",
    "BPR",
    "InBatchSoftmax",
    "logq_correction",
    "remove_accidental_hits",
]
from recnotes.losses.curves import margin_curve  # noqa: E402

__all__ += ["margin_curve"]
