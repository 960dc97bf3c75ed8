"""The DNN two-tower with features, optionally with a SENet in each tower."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recnotes.features import FeatureTable
from recnotes.layers.fields import FieldEmbedding
from recnotes.layers.senet import SENet
from recnotes.models.feature_base import FeatureRetrievalModel

__all__ = ["FeatureTwoTowerModel"]


@keras.saving.register_keras_serializable(package="recnotes")
class FeatureTwoTowerModel(FeatureRetrievalModel):
    """Two towers of dense layers over feature fields, meeting in a dot product.

    Each tower embeds its side's features as fields ``E = [e_1 .. e_n]``
    (:class:`~recnotes.layers.FieldEmbedding`: the user tower e.g. id and
    genre profile, the item tower id, genres, release year), optionally
    reweights them with a :class:`~recnotes.layers.SENet` (``E <- a ⊙ E``),
    concatenates them and applies ``Dense(h, relu)`` for each ``h`` in
    ``hidden_units`` and a final linear ``Dense(output_dim)``; with
    ``normalize`` the output is L2-normalized, so ``score(u, i) = cos(q_u,
    c_i)`` and the in-batch softmax divides it by ``temperature``.  User and
    item features meet only at the dot product: the towers are deep and
    non-linear within a side, with no cross features between sides.

    Inputs: ``{"user": [B], "item": [B]}`` indices (optionally
    ``"item_probability": [B]`` for the logQ correction).  Output of
    ``call``: ``{"user": [B, d], "item": [B, d]}``.

    Args:
      user_table, item_table: :class:`~recnotes.features.FeatureTable` of
        every user / item (their ``get_config()`` dicts when loading).
      hidden_units: widths of the hidden ReLU layers of each tower.
      output_dim: ``d``.
      embedding_dim: ``k`` of every field (default: the specs').
      normalize: L2-normalize the tower outputs.
      temperature: softmax temperature (small, e.g. 0.05, for normalized outputs).
      senet: put a SENet on each tower's fields.
      senet_reduction: its reduction ratio ``r``.
      seed: seed of the initializers.
      remove_accidental_hits, retrieval_loss: as in :class:`~recnotes.models.TwoTowerModel`.
    """

    def __init__(
        self,
        user_table: FeatureTable | dict,
        item_table: FeatureTable | dict,
        hidden_units=(128,),
        output_dim: int = 64,
        embedding_dim: int | None = None,
        normalize: bool = True,
        temperature: float = 0.05,
        senet: bool = False,
        senet_reduction: float = 2,
        seed: int | None = None,
        remove_accidental_hits: bool = False,
        retrieval_loss=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(output_dim) != output_dim or output_dim < 1:
            raise ValueError(f"output_dim must be a positive integer, got {output_dim!r}")
        self.hidden_units = [int(h) for h in hidden_units]
        if any(h < 1 for h in self.hidden_units):
            raise ValueError(f"hidden_units must be positive integers, got {list(hidden_units)}")
        self.output_dim, self.normalize, self.senet = int(output_dim), bool(normalize), bool(senet)
        self.senet_reduction, self.seed = float(senet_reduction), seed
        self._init_loss(temperature, remove_accidental_hits, retrieval_loss)
        s = lambda o: None if seed is None else seed + o  # noqa: E731
        self.user_fields = FieldEmbedding(user_table, embedding_dim, seed=s(0), name="user_fields")
        self.item_fields = FieldEmbedding(item_table, embedding_dim, seed=s(100), name="item_fields")
        self.user_table_config, self.item_table_config = self.user_fields.table_config, self.item_fields.table_config
        self.embedding_dim = self.user_fields.embedding_dim if embedding_dim is None else int(embedding_dim)
        self.num_users, self.num_items = self.user_fields.num_rows, self.item_fields.num_rows
        self.user_senet = SENet(senet_reduction, seed=s(200), name="user_senet") if self.senet else None
        self.item_senet = SENet(senet_reduction, seed=s(300), name="item_senet") if self.senet else None
        self.user_tower = self._tower("user_tower", s(400))
        self.item_tower = self._tower("item_tower", s(500))
        for tower, fields in ((self.user_tower, self.user_fields), (self.item_tower, self.item_fields)):
            tower.build((None, len(fields.features) * fields.embedding_dim))
        if self.senet:
            self.user_senet.build((None, len(self.user_fields.features), self.user_fields.embedding_dim))
            self.item_senet.build((None, len(self.item_fields.features), self.item_fields.embedding_dim))
        self.built = True  # every weight exists now (the lookup arrays too)

    def _tower(self, name, seed):
        layers = [keras.layers.Dense(h, activation="relu", name=f"{name}_hidden_{n}",
                                     kernel_initializer=keras.initializers.GlorotUniform(seed=None if seed is None else seed + n))
                  for n, h in enumerate(self.hidden_units)]
        layers.append(keras.layers.Dense(self.output_dim, name=f"{name}_output",
                                         kernel_initializer=keras.initializers.GlorotUniform(seed=None if seed is None else seed + 99)))
        return keras.Sequential(layers, name=name)

    def build(self, input_shape=None):
        self.built = True

    def _encode(self, fields_layer, senet, tower, rows, training):
        fields = fields_layer(rows)
        if senet is not None:
            fields, _ = senet(fields)
        flat = ops.reshape(fields, (-1, fields.shape[1] * fields.shape[2]))
        out = tower(flat, training=training)
        return ops.normalize(out, axis=-1, order=2) if self.normalize else out

    def encode_users(self, rows, training=False):
        return self._encode(self.user_fields, self.user_senet, self.user_tower, rows, training)

    def encode_items(self, rows, training=False):
        return self._encode(self.item_fields, self.item_senet, self.item_tower, rows, training)

    def field_weights(self, side: str, rows=None) -> np.ndarray:
        """SENet weights ``[len(rows), n_fields]`` of the ``"user"`` or ``"item"`` tower (all rows by default)."""
        if not self.senet:
            raise ValueError("field_weights needs a model built with senet=True")
        if side not in ("user", "item"):
            raise ValueError(f"side must be 'user' or 'item', got {side!r}")
        fields_layer, senet = (self.user_fields, self.user_senet) if side == "user" else (self.item_fields, self.item_senet)
        rows = np.arange(fields_layer.num_rows) if rows is None else np.asarray(rows)
        return ops.convert_to_numpy(senet(fields_layer(rows.astype(np.int32)))[1])

    def get_config(self):
        return {
            **super().get_config(),
            "user_table": self.user_table_config,
            "item_table": self.item_table_config,
            "hidden_units": list(self.hidden_units),
            "output_dim": self.output_dim,
            "embedding_dim": self.embedding_dim,
            "normalize": self.normalize,
            "senet": self.senet,
            "senet_reduction": self.senet_reduction,
            "seed": self.seed,
            **self._loss_config(),
        }
