"""The factorization machine's pairwise interaction term."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["FactorizationMachine"]


@keras.saving.register_keras_serializable(package="recnotes")
class FactorizationMachine(keras.layers.Layer):
    """Sum of all pairwise dot products of field embeddings, in O(k·n).

    For fields ``v_1 .. v_n`` (each a ``k``-vector; Rendle, ICDM 2010)::

        Σ_{i<j} <v_i, v_j> = ½ Σ_{f=1..k} [ (Σ_i v_{i,f})² − Σ_i v_{i,f}² ]

    The left side costs O(k·n²), the right O(k·n).  With a single field the
    term is 0.

    Input shape: ``[B, n, k]``.  Output shape: ``[B]`` (or ``[B, k]`` with
    ``reduce_sum=False``: the per-dimension terms before the sum over ``f``).
    """

    def __init__(self, reduce_sum: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.reduce_sum = bool(reduce_sum)

    def call(self, fields):
        shape = tuple(fields.shape)
        if len(shape) != 3:
            raise ValueError(f"FactorizationMachine expects fields of shape [B, n, k], got {shape}")
        square_of_sum = ops.square(ops.sum(fields, axis=1))
        sum_of_squares = ops.sum(ops.square(fields), axis=1)
        interactions = 0.5 * (square_of_sum - sum_of_squares)  # [B, k]
        return ops.sum(interactions, axis=1) if self.reduce_sum else interactions

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) if self.reduce_sum else (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "reduce_sum": self.reduce_sum}
