"""Squeeze-and-excitation over field embeddings (SENet, as used in FiBiNET)."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["SENet"]


@keras.saving.register_keras_serializable(package="recnotes")
class SENet(keras.layers.Layer):
    """Learn one weight per field from all fields, and rescale the fields by it.

    Hu et al., "Squeeze-and-Excitation Networks" (CVPR 2018), applied to the
    field embeddings of a recommender by Huang et al., "FiBiNET" (RecSys 2019).
    For fields ``E = [e_1 .. e_n]`` (``[B, n, k]``)::

        squeeze:   z_i = mean_f e_{i,f}                      z: [B, n]
        excite:    a = σ(W2 δ(W1 z + b1) + b2)               a: [B, n]
        reweight:  output_i = a_i · e_i                      [B, n, k]

    with ``δ`` = ReLU, ``W1: n -> max(1, n // r)``, ``W2: max(1, n // r) -> n``,
    ``r`` the reduction ratio and ``σ`` the logistic sigmoid, so every
    weight lies in (0, 1): a field whose weight goes toward 0 is suppressed
    for that example.  The weights depend on the example, so a feature can
    be trusted for one user or item and discounted for another.

    Args:
      reduction_ratio: ``r`` (>= 1).
      seed: seed of the kernel initializers.

    Input shape: ``[B, n, k]``.  Returns ``(reweighted [B, n, k], weights [B, n])``.
    """

    def __init__(self, reduction_ratio: float = 2, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not reduction_ratio >= 1:
            raise ValueError(f"reduction_ratio must be >= 1, got {reduction_ratio}")
        self.reduction_ratio = float(reduction_ratio)
        self.seed = seed

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 3 or shape[1] is None:
            raise ValueError(f"SENet expects fields of shape [B, n, k] with a known n, got {shape}")
        self.num_fields = int(shape[1])
        self.bottleneck = max(1, int(self.num_fields // self.reduction_ratio))
        init = lambda o: keras.initializers.GlorotUniform(seed=None if self.seed is None else self.seed + o)  # noqa: E731
        self.squeeze_dense = keras.layers.Dense(self.bottleneck, activation="relu", kernel_initializer=init(0), name="excite_1")
        self.excite_dense = keras.layers.Dense(self.num_fields, activation="sigmoid", kernel_initializer=init(1), name="excite_2")
        self.squeeze_dense.build((None, self.num_fields))
        self.excite_dense.build((None, self.bottleneck))
        self.built = True

    def call(self, fields):
        shape = tuple(fields.shape)
        if len(shape) != 3 or shape[1] != self.num_fields:
            raise ValueError(f"SENet was built for fields of shape [B, {self.num_fields}, k], got {shape}")
        z = ops.mean(fields, axis=2)
        weights = self.excite_dense(self.squeeze_dense(z))
        return fields * weights[:, :, None], weights

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), (input_shape[0], input_shape[1])

    def get_config(self):
        return {**super().get_config(), "reduction_ratio": self.reduction_ratio, "seed": self.seed}
