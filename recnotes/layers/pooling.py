"""Pooled embedding of a multi-valued feature (genres, tags)."""

from __future__ import annotations

import keras
from keras import ops

from recnotes.features import COMBINERS

__all__ = ["PooledEmbedding", "pool"]


def pool(embeddings, weights, combiner: str):
    """Pool ``[B, L, d]`` embeddings with ``[B, L]`` weights (0 = padding) to ``[B, d]``.

    ``sum = Σ_j w_j e_j``; ``mean`` divides by ``Σ_j w_j``; ``sqrtn`` by
    ``sqrt(Σ_j w_j²)``.  A row whose weights are all zero (an empty list)
    pools to zeros: its divisor is replaced by 1, never 0.
    """
    if combiner not in COMBINERS:
        raise ValueError(f"combiner must be one of {', '.join(COMBINERS)}, got {combiner!r}")
    weights = ops.cast(weights, embeddings.dtype)
    total = ops.sum(embeddings * weights[..., None], axis=1)
    if combiner == "sum":
        return total
    if combiner == "mean":
        divisor = ops.sum(weights, axis=1)
    else:
        divisor = ops.sqrt(ops.sum(ops.square(weights), axis=1))
    divisor = ops.where(divisor > 0, divisor, ops.ones_like(divisor))
    return total / divisor[:, None]


@keras.saving.register_keras_serializable(package="recnotes")
class PooledEmbedding(keras.layers.Layer):
    """Embedding of a variable-length list of values, pooled to one vector.

    With row ids ``x_1 .. x_L`` (index 0 = padding) and weights ``w_j``
    (default 1 for every non-padding id, 0 for padding)::

        sum   = Σ_j w_j E[x_j]
        mean  = Σ_j w_j E[x_j] / Σ_j w_j
        sqrtn = Σ_j w_j E[x_j] / sqrt(Σ_j w_j²)

    so for a plain list the pooled vector is ``multi_hot @ E[1:V+1]`` (sum),
    divided by the count (mean) or by its square root (sqrtn).  An empty list
    pools to the zero vector (never NaN); padding never contributes, whatever
    row 0 of the table holds.

    Args:
      input_dim: rows of the table (vocabulary + padding + OOV, i.e.
        :attr:`~recnotes.features.MultiValuedFeature.num_embeddings`).
      output_dim: ``d``.
      combiner: ``"sum"``, ``"mean"`` or ``"sqrtn"``.
      embeddings_initializer: of the table ``[input_dim, d]``.

    Call args:
      ids: ``[B, L]`` int indices.
      weights: optional ``[B, L]`` float weights (ignored where ``ids == 0``).

    Returns:
      ``[B, d]``.
    """

    def __init__(self, input_dim: int, output_dim: int, combiner: str = "mean",
                 embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if combiner not in COMBINERS:
            raise ValueError(f"combiner must be one of {', '.join(COMBINERS)}, got {combiner!r}")
        self.input_dim, self.output_dim, self.combiner = int(input_dim), int(output_dim), combiner
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer, name="embeddings"
        )
        self.built = True  # the table exists now

    def build(self, input_shape=None):
        self.built = True

    def call(self, ids, weights=None):
        ids_shape = tuple(ids.shape)
        if len(ids_shape) != 2:
            raise ValueError(f"PooledEmbedding expects ids of shape [B, L], got {ids_shape}")
        ids = ops.cast(ids, "int32")
        mask = ops.cast(ids > 0, self.compute_dtype)
        if weights is None:
            weights = mask
        else:
            if tuple(weights.shape) != ids_shape:
                raise ValueError(f"PooledEmbedding expects weights of the ids' shape {ids_shape}, got {tuple(weights.shape)}")
            weights = ops.cast(weights, self.compute_dtype) * mask
        vectors = ops.take(self.embeddings, ids, axis=0)
        return pool(vectors, weights, self.combiner)

    def compute_output_shape(self, ids_shape, weights_shape=None):
        return (ids_shape[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "combiner": self.combiner,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
