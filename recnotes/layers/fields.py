"""Every feature of a user or item table embedded as one field each."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recnotes.features import FeatureTable, feature_from_config
from recnotes.layers.pooling import PooledEmbedding

__all__ = ["FieldEmbedding"]


@keras.saving.register_keras_serializable(package="recnotes")
class FieldEmbedding(keras.layers.Layer):
    """Look up a batch of users (or items) and embed each of their features.

    The layer holds the :class:`~recnotes.features.FeatureTable` arrays as
    non-trainable weights (saved with the model), so its input is just the
    row index: for rows ``r`` it gathers each feature's encoded values and
    embeds them — a categorical feature through an embedding table, a
    multi-valued one through a :class:`~recnotes.layers.PooledEmbedding` with
    the feature's combiner — giving one ``k``-vector per feature ("field").

    Args:
      table: the :class:`~recnotes.features.FeatureTable` (or its
        ``get_config()`` dict, when loading; the arrays then come with the
        saved weights).
      embedding_dim: ``k`` for every field; by default the specs'
        ``embedding_dim``, which must then be equal.
      seed: seed of the embedding initializers (normal, stddev 0.05).

    Call args:
      rows: ``[B]`` int user or item indices.

    Returns:
      ``[B, F, k]``, fields in the table's feature order.
    """

    def __init__(self, table, embedding_dim: int | None = None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        arrays = {}
        if isinstance(table, FeatureTable):
            arrays = table.arrays
            table = table.get_config()
        self.table_config = table
        self.features = [feature_from_config(c) for c in table["features"]]
        self.num_rows = int(table["num_rows"])
        dims = sorted({f.embedding_dim for f in self.features})
        if embedding_dim is None and len(dims) > 1:
            raise ValueError(
                f"FieldEmbedding needs one embedding_dim for all fields (they are stacked to [B, F, k]); "
                f"the specs have {[(f.name, f.embedding_dim) for f in self.features]}; pass embedding_dim"
            )
        self.embedding_dim = int(embedding_dim if embedding_dim is not None else dims[0])
        self.seed = seed
        self.lookups, self.embeddings = {}, []
        for n, f in enumerate(self.features):
            init = keras.initializers.RandomNormal(stddev=0.05, seed=None if seed is None else seed + n)
            names = [f.name] + ([f.name + "/weights"] if f.kind == "multi_valued" else [])
            for key in names:
                shape = tuple(table["shapes"][key])
                dtype = "float32" if key.endswith("/weights") else "int32"
                var = self.add_weight(shape=shape, initializer="zeros", dtype=dtype, trainable=False,
                                      name=f"table_{key.replace('/', '_')}")
                if key in arrays:
                    var.assign(np.asarray(arrays[key], dtype=dtype))
                self.lookups[key] = var
            if f.kind == "multi_valued":
                layer = PooledEmbedding(f.num_embeddings, self.embedding_dim, f.combiner,
                                        embeddings_initializer=init, name=f"embedding_{f.name}")
            else:
                layer = keras.layers.Embedding(f.num_embeddings, self.embedding_dim,
                                               embeddings_initializer=init, name=f"embedding_{f.name}")
                layer.build((None,))
            self.embeddings.append(layer)
        self.built = True  # every weight exists now (the lookup arrays too)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.features]

    def build(self, input_shape=None):
        self.built = True

    def call(self, rows):
        if len(tuple(rows.shape)) != 1:
            raise ValueError(f"FieldEmbedding expects row indices of shape [B], got {tuple(rows.shape)}")
        rows = ops.cast(rows, "int32")
        fields = []
        for f, layer in zip(self.features, self.embeddings):
            ids = ops.take(self.lookups[f.name], rows, axis=0)
            if f.kind == "multi_valued":
                fields.append(layer(ids, ops.take(self.lookups[f.name + "/weights"], rows, axis=0)))
            else:
                fields.append(layer(ids))
        return ops.stack(fields, axis=1)

    def compute_output_shape(self, rows_shape):
        return (rows_shape[0], len(self.features), self.embedding_dim)

    def get_config(self):
        return {**super().get_config(), "table": self.table_config, "embedding_dim": self.embedding_dim, "seed": self.seed}
