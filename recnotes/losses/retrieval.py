"""In-batch retrieval logits, their corrections, and the in-batch softmax loss.

A two-tower batch of ``B`` (query, positive item) pairs gives the score
matrix ``S = q c^T / temperature`` (``[B, B]``, positives on the diagonal).
Two corrections are applied to the logits before any loss:

* :func:`logq_correction` — subtract ``log p_j``, the log-probability that
  candidate ``j`` is in a batch, so popular items are not over-penalized as
  negatives (Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large
  Corpus Item Recommendations", RecSys 2019);
* :func:`remove_accidental_hits` — a negative that is the same item as the
  row's positive gets a logit of :data:`MASK_LOGIT` (it is removed from the
  softmax, not merely lowered).

:class:`InBatchSoftmax` chains scores, corrections and softmax cross-entropy.
"""

from __future__ import annotations

import keras
from keras import ops

from recnotes.losses.masking import MASK_LOGIT
from recnotes.losses.pointwise import SoftmaxCrossEntropy

__all__ = ["MASK_LOGIT", "logq_correction", "remove_accidental_hits", "retrieval_logits", "InBatchSoftmax", "resolve_retrieval_loss"]

def logq_correction(logits, candidate_sampling_probability, epsilon: float = 1e-12):
    """``logits[b, j] - log(clip(p_j, epsilon, 1))``.

    Args:
      logits: ``[B, N]``.
      candidate_sampling_probability: ``[N]``, the probability that candidate
        ``j`` is sampled (e.g. its share of training rows); clipped to
        ``[epsilon, 1]`` so that a zero gives a large finite correction.
    """
    logits = ops.cast(logits, "float32")
    p = ops.clip(ops.cast(ops.reshape(candidate_sampling_probability, (-1,)), "float32"), epsilon, 1.0)
    return logits - ops.log(p)[None, :]


def remove_accidental_hits(logits, labels, candidate_ids):
    """Mask negatives that are the same item as their row's positive.

    For row ``b`` with positive column ``k`` (``labels[b, k] = 1``), every
    column ``j`` with ``labels[b, j] = 0`` and ``candidate_ids[j] ==
    candidate_ids[k]`` gets the logit :data:`MASK_LOGIT`.

    Args:
      logits: ``[B, N]``.
      labels: ``[B, N]`` one-hot.
      candidate_ids: ``[N]`` item ids of the columns.
    """
    logits = ops.cast(logits, "float32")
    ids = ops.reshape(candidate_ids, (-1,))
    positive_ids = ops.take(ids, ops.argmax(labels, axis=1))
    duplicate = ops.logical_and(
        ops.equal(positive_ids[:, None], ids[None, :]), ops.equal(ops.cast(labels, "float32"), 0.0)
    )
    return ops.where(duplicate, ops.cast(MASK_LOGIT, "float32"), logits)


def retrieval_logits(
    query_embeddings,
    candidate_embeddings,
    temperature: float = 1.0,
    candidate_ids=None,
    candidate_sampling_probability=None,
    remove_hits: bool = False,
):
    """In-batch logits and labels with corrections applied.

    Candidates ``[N, d]`` hold the batch's ``B`` positives first (row ``i``'s
    positive is candidate ``i``), optionally followed by ``N - B`` extra
    negatives (e.g. uniformly sampled items: mixed negatives).  Computed in
    float32 whatever the input dtype (under mixed precision the mask constant
    and log-sum-exp overflow float16).

    Returns:
      ``(logits [B, N], labels [B, N])``; labels are the identity's first ``B`` columns.
    """
    q = ops.cast(query_embeddings, "float32")
    c = ops.cast(candidate_embeddings, "float32")
    q_shape, c_shape = tuple(q.shape), tuple(c.shape)
    enough = q_shape[0] is None or c_shape[0] is None or c_shape[0] >= q_shape[0]
    if len(q_shape) != 2 or len(c_shape) != 2 or q_shape[-1] != c_shape[-1] or not enough:
        raise ValueError(
            "in-batch retrieval expects query_embeddings [B, d] and candidate_embeddings [N, d] "
            f"with N >= B (the B positives first); got {q_shape} and {c_shape}"
        )
    logits = ops.matmul(q, ops.transpose(c)) / temperature
    labels = ops.eye(ops.shape(logits)[0], ops.shape(logits)[1], dtype="float32")
    if candidate_sampling_probability is not None:
        logits = logq_correction(logits, candidate_sampling_probability)
    if remove_hits:
        if candidate_ids is None:
            raise ValueError("remove_accidental_hits=True needs candidate_ids")
        logits = remove_accidental_hits(logits, labels, candidate_ids)
    return logits, labels


@keras.saving.register_keras_serializable(package="recnotes")
class InBatchSoftmax(keras.layers.Layer):
    """In-batch softmax cross-entropy for two-tower retrieval.

    With query embeddings ``q`` and candidate embeddings ``c`` of a batch of
    ``B`` (query, positive item) pairs, the loss steps are:

    1. scores ``S = q c^T / temperature``, shape ``[B, B]``; row ``i``'s
       positive is on the diagonal;
    2. logQ correction (optional): ``S[i, j] -= log p_j``, where ``p_j`` is
       the probability that item ``j`` is sampled as a batch member, which
       removes the popularity bias of in-batch negatives
       (Yi et al., RecSys 2019);
    3. accidental hits (optional): ``S[i, j] = -1e9`` for ``j != i`` whose
       candidate id equals row ``i``'s;
    4. ``loss_i = -log softmax(S[i])_i = logsumexp_j S[i, j] - S[i, i]``,
       averaged over the batch (weighted by ``sample_weight`` if given).

    Args:
      temperature: divides the scores; below 1 sharpens the softmax.
      remove_accidental_hits: mask in-batch duplicates of the positive
        (needs ``candidate_ids``).

    Call args:
      query_embeddings: ``[B, d]``.
      candidate_embeddings: ``[B, d]``, row ``i`` is query ``i``'s positive.
      candidate_ids: optional ``[B]`` int ids, for accidental-hit masking.
      candidate_sampling_probability: optional ``[B]`` floats in (0, 1],
        for the logQ correction (values are clipped to [1e-12, 1]).
      sample_weight: optional ``[B]`` weights.

    Returns:
      A scalar: the weighted mean loss over the batch.
    """

    def __init__(self, temperature: float = 1.0, remove_accidental_hits: bool = False, **kwargs):
        kwargs.setdefault("autocast", False)  # keep probabilities and weights in float32 under mixed precision
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self._cross_entropy = SoftmaxCrossEntropy(reduction=None)

    def call(
        self,
        query_embeddings,
        candidate_embeddings,
        candidate_ids=None,
        candidate_sampling_probability=None,
        sample_weight=None,
    ):
        logits, labels = retrieval_logits(
            query_embeddings,
            candidate_embeddings,
            self.temperature,
            candidate_ids,
            candidate_sampling_probability,
            self.remove_accidental_hits,
        )
        per_example = self._cross_entropy(labels, logits)
        if sample_weight is None:
            return ops.mean(per_example)
        w = ops.cast(ops.reshape(sample_weight, (-1,)), per_example.dtype)
        return ops.sum(per_example * w) / ops.maximum(ops.sum(w), 1e-12)

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "remove_accidental_hits": self.remove_accidental_hits,
        }


def resolve_retrieval_loss(loss) -> keras.losses.Loss:
    """A model's ``retrieval_loss`` argument as a Keras loss.

    ``None`` gives :class:`~recnotes.losses.SoftmaxCrossEntropy` (the
    in-batch softmax); a dict is a serialized loss from ``get_config``.

    Raises:
      ValueError: for anything that is not a ``keras.losses.Loss``.
    """
    if isinstance(loss, dict):  # from get_config
        loss = keras.saving.deserialize_keras_object(loss)
    loss = SoftmaxCrossEntropy() if loss is None else loss
    if not isinstance(loss, keras.losses.Loss):
        raise ValueError(f"retrieval_loss must be a keras.losses.Loss, got {type(loss).__name__}")
    return loss
