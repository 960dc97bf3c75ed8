"""A factorization machine over user and item fields, trained for retrieval."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recnotes.features import FeatureTable
from recnotes.layers.fields import FieldEmbedding
from recnotes.layers.fm import FactorizationMachine
from recnotes.models.feature_base import FeatureRetrievalModel

__all__ = ["FMRetrievalModel"]


@keras.saving.register_keras_serializable(package="recnotes")
class FMRetrievalModel(FeatureRetrievalModel):
    """Factorization machine on the fields of a (user, item) pair, as a retrieval model.

    With user fields ``U = {u_1 .. u_m}``, item fields ``I = {v_1 .. v_n}``
    (``k``-vectors, :class:`~recnotes.layers.FieldEmbedding`) and item linear
    weights ``w_j``, the FM score of the pair is::

        FM(u, i) = w_0 + Σ_user w + Σ_j w_j + Σ_{pairs of U ∪ I} <x, y>
                 = [w_0 + Σ_user w + FM(U)]  +  <Σ_a u_a, Σ_j v_j>  +  [Σ_j w_j + FM(I)]

    since the pairs of ``U ∪ I`` are the pairs within ``U``, within ``I`` and
    across (``FM(·)`` = :class:`~recnotes.layers.FactorizationMachine`).  The
    first bracket is the same for every item, so it changes neither a
    user's ranking nor the in-batch softmax over items: the model drops it
    and scores ``<q_u, c_i>`` with ``q_u = [Σ_a u_a, 1]`` and
    ``c_i = [Σ_j v_j, Σ_j w_j + FM(I)]``.  That is a two-tower with
    sum-pooling towers and no depth, whose cross features (every user field
    with every item field) are all at the embedding level — and it can be
    trained and served exactly like one (Rendle 2010; "FM for retrieval").

    Args:
      user_table, item_table: :class:`~recnotes.features.FeatureTable` (or their configs).
      embedding_dim: ``k`` of every field (default: the specs').
      temperature: softmax temperature.
      seed: seed of the initializers.
      remove_accidental_hits, retrieval_loss: as in :class:`~recnotes.models.TwoTowerModel`.
    """

    def __init__(
        self,
        user_table: FeatureTable | dict,
        item_table: FeatureTable | dict,
        embedding_dim: int | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        remove_accidental_hits: bool = False,
        retrieval_loss=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.seed = seed
        self._init_loss(temperature, remove_accidental_hits, retrieval_loss)
        s = lambda o: None if seed is None else seed + o  # noqa: E731
        self.user_fields = FieldEmbedding(user_table, embedding_dim, seed=s(0), name="user_fields")
        self.item_fields = FieldEmbedding(item_table, embedding_dim, seed=s(100), name="item_fields")
        self.item_linear = FieldEmbedding(item_table, 1, seed=s(200), name="item_linear")
        self.user_table_config, self.item_table_config = self.user_fields.table_config, self.item_fields.table_config
        self.embedding_dim = self.user_fields.embedding_dim
        if self.item_fields.embedding_dim != self.embedding_dim:
            raise ValueError(f"user and item fields must share k: got {self.embedding_dim} and {self.item_fields.embedding_dim}")
        self.num_users, self.num_items = self.user_fields.num_rows, self.item_fields.num_rows
        self.fm = FactorizationMachine(name="fm")
        self.built = True  # every weight exists now (the lookup arrays too)

    def build(self, input_shape=None):
        self.built = True

    def encode_users(self, rows, training=False):
        summed = ops.sum(self.user_fields(rows), axis=1)
        return ops.concatenate([summed, ops.ones_like(summed[:, :1])], axis=1)

    def encode_items(self, rows, training=False):
        fields = self.item_fields(rows)
        bias = ops.sum(self.item_linear(rows)[:, :, 0], axis=1) + self.fm(fields)  # Σ_j w_j + FM(I)
        return ops.concatenate([ops.sum(fields, axis=1), bias[:, None]], axis=1)

    def pair_fields(self, users, items):
        """``[B, m + n, k]``: the user's fields followed by the item's (for checks)."""
        users, items = np.asarray(users, np.int32), np.asarray(items, np.int32)
        return ops.concatenate([self.user_fields(users), self.item_fields(items)], axis=1)

    def get_config(self):
        return {
            **super().get_config(),
            "user_table": self.user_table_config,
            "item_table": self.item_table_config,
            "embedding_dim": self.embedding_dim,
            "seed": self.seed,
            **self._loss_config(),
        }
