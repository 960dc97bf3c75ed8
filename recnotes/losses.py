"""Retrieval losses as Keras 3 layers.

:class:`InBatchSoftmax` is the sampled-softmax loss of the two-tower
retrieval model: each query's positive item is scored against every other
item of the same batch, which serve as negatives.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["InBatchSoftmax"]


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
    3. accidental hits (optional): ``S[i, j] = -inf`` (a large negative
       number) for ``j != i`` whose candidate id equals row ``i``'s;
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
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.remove_accidental_hits = bool(remove_accidental_hits)

    def call(
        self,
        query_embeddings,
        candidate_embeddings,
        candidate_ids=None,
        candidate_sampling_probability=None,
        sample_weight=None,
    ):
        q_shape, c_shape = tuple(query_embeddings.shape), tuple(candidate_embeddings.shape)
        same_batch = q_shape[0] is None or c_shape[0] is None or q_shape[0] == c_shape[0]
        if len(q_shape) != 2 or len(c_shape) != 2 or q_shape[-1] != c_shape[-1] or not same_batch:
            raise ValueError(
                "InBatchSoftmax expects query_embeddings [B, d] and candidate_embeddings [B, d]; "
                f"got {q_shape} and {c_shape}"
            )
        # The loss is computed in float32 even under mixed precision: the
        # masking constant and log-sum-exp overflow in float16.
        query_embeddings = ops.cast(query_embeddings, "float32")
        candidate_embeddings = ops.cast(candidate_embeddings, "float32")
        scores = ops.matmul(query_embeddings, ops.transpose(candidate_embeddings)) / self.temperature
        if candidate_sampling_probability is not None:
            p = ops.cast(candidate_sampling_probability, scores.dtype)
            scores = scores - ops.log(ops.clip(p, 1e-12, 1.0))[None, :]
        n = ops.shape(scores)[0]
        eye = ops.eye(n, dtype=scores.dtype)
        if self.remove_accidental_hits:
            if candidate_ids is None:
                raise ValueError("remove_accidental_hits=True needs candidate_ids")
            ids = ops.reshape(candidate_ids, (-1,))
            same = ops.cast(ops.equal(ids[:, None], ids[None, :]), scores.dtype)
            scores = scores + (same - eye) * ops.cast(-1e9, scores.dtype)
        positive = ops.sum(scores * eye, axis=1)
        per_example = ops.logsumexp(scores, axis=1) - positive
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
