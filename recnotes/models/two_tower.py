"""The two-tower (dual encoder) retrieval model, ids only."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recnotes.losses.retrieval import resolve_retrieval_loss, retrieval_logits

__all__ = ["TwoTowerModel"]


@keras.saving.register_keras_serializable(package="recnotes")
class TwoTowerModel(keras.Model):
    """Two-tower retrieval: a user tower and an item tower meet in a dot product.

    ``score(u, i) = <f(u), g(i)>``, where the towers ``f`` and ``g`` are
    embedding tables of ``embedding_dim`` (ids only; features come later in
    the series).  Training minimizes the in-batch softmax loss
    (:class:`~recnotes.losses.InBatchSoftmax`): each (user, positive item)
    pair of a batch is scored against all items of the batch.

    Inputs: a dict ``{"user": [B] int, "item": [B] int}`` of contiguous
    indices (from :class:`~recnotes.data.IdEncoder`), optionally with
    ``"item_probability": [B]`` for the logQ correction.

    Outputs of ``call``: ``{"user": [B, d], "item": [B, d]}`` embeddings.

    Args:
      num_users: rows of the user table.
      num_items: rows of the item table.
      embedding_dim: ``d``.
      temperature: softmax temperature of the loss.
      remove_accidental_hits: mask in-batch copies of a row's positive item.
      seed: seed of the embedding initializers.
      num_uniform_negatives: ``M`` items drawn uniformly from the catalogue at
        every training step and added to each row's in-batch negatives
        (mixed negative sampling, Yang et al., WWW 2020); logits become
        ``[B, B + M]``. Uniform negatives counter the popularity skew of
        in-batch ones; not combined with the logQ correction.
      retrieval_loss: a Keras loss taking ``(labels [B, N], logits [B, N])``:
        :class:`~recnotes.losses.SoftmaxCrossEntropy` (default),
        :class:`~recnotes.losses.BinaryCrossEntropy`,
        :class:`~recnotes.losses.PairwiseHinge` or :class:`~recnotes.losses.BPR`.

    Example::

        model = TwoTowerModel(num_users=610, num_items=8230, embedding_dim=64)
        model.compile(optimizer=keras.optimizers.Adagrad(0.1))
        model.fit(dataset, epochs=30)
        scores = model.score_all_items(np.arange(610))   # [610, 8230]
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        temperature: float = 1.0,
        remove_accidental_hits: bool = False,
        seed: int | None = None,
        retrieval_loss: keras.losses.Loss | dict | None = None,
        num_uniform_negatives: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("num_users", num_users), ("num_items", num_items), ("embedding_dim", embedding_dim)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.embedding_dim = int(embedding_dim)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self.seed = seed
        if int(num_uniform_negatives) != num_uniform_negatives or num_uniform_negatives < 0:
            raise ValueError(f"num_uniform_negatives must be an integer >= 0, got {num_uniform_negatives!r}")
        self.num_uniform_negatives = int(num_uniform_negatives)
        self._negative_seed = keras.random.SeedGenerator(None if seed is None else seed + 2)
        init = lambda offset: keras.initializers.RandomNormal(  # noqa: E731
            stddev=0.05, seed=None if seed is None else seed + offset
        )
        self.user_embedding = keras.layers.Embedding(
            self.num_users, self.embedding_dim, embeddings_initializer=init(0), name="user_embedding"
        )
        self.item_embedding = keras.layers.Embedding(
            self.num_items, self.embedding_dim, embeddings_initializer=init(1), name="item_embedding"
        )
        self.retrieval_loss = resolve_retrieval_loss(retrieval_loss)

    def build(self, input_shape=None):
        if self.built:
            return
        self.user_embedding.build((None,))
        self.item_embedding.build((None,))
        self.built = True

    def call(self, inputs):
        return {"user": self.user_embedding(inputs["user"]), "item": self.item_embedding(inputs["item"])}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        logits, labels = self.in_batch_logits(x, y_pred)
        return self.retrieval_loss(labels, logits, sample_weight=sample_weight)

    def in_batch_logits(self, x, y_pred=None, uniform_negatives: bool = True):
        """``(logits [B, N], labels [B, N])`` of a batch, corrections applied.

        ``N = B`` (in-batch negatives), or ``B + M`` with mixed negatives
        (``uniform_negatives=False`` leaves them out and draws nothing, so it
        does not advance the sampling seed).
        """
        if y_pred is None:
            y_pred = self(x)
        candidates, candidate_ids = y_pred["item"], x["item"]
        probability = x.get("item_probability")
        if self.num_uniform_negatives and uniform_negatives:
            if probability is not None:
                raise ValueError("the logQ correction (item_probability) is not combined with num_uniform_negatives")
            extra = keras.random.randint(
                (self.num_uniform_negatives,), 0, self.num_items, seed=self._negative_seed, dtype="int32"
            )
            candidates = ops.concatenate([candidates, self.item_embedding(extra)], axis=0)
            candidate_ids = ops.concatenate([ops.cast(candidate_ids, "int32"), extra], axis=0)
        return retrieval_logits(
            y_pred["user"],
            candidates,
            temperature=self.temperature,
            candidate_ids=candidate_ids,
            candidate_sampling_probability=probability,
            remove_hits=self.remove_accidental_hits,
        )

    @staticmethod
    def _rows(table, indices, name: str, size: int) -> np.ndarray:
        if indices is None:
            return ops.convert_to_numpy(table)
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu" or (indices.size and (indices.min() < 0 or indices.max() >= size)):
            raise ValueError(f"{name} indices must be integers in [0, {size}), got {indices.ravel()[:5]} (dtype {indices.dtype})")
        return ops.convert_to_numpy(ops.take(table, indices, axis=0))

    def user_vectors(self, users=None) -> np.ndarray:
        """User embeddings ``[len(users), d]`` as numpy (all users by default)."""
        self.build()
        return self._rows(self.user_embedding.embeddings, users, "user", self.num_users)

    def item_vectors(self, items=None) -> np.ndarray:
        """Item embeddings ``[len(items), d]`` as numpy (all items by default)."""
        self.build()
        return self._rows(self.item_embedding.embeddings, items, "item", self.num_items)

    def score_all_items(self, users) -> np.ndarray:
        """Scores ``[len(users), num_items]`` of every item for the given user indices."""
        return self.user_vectors(users) @ self.item_vectors().T

    def get_config(self):
        return {
            **super().get_config(),
            "num_users": self.num_users,
            "num_items": self.num_items,
            "embedding_dim": self.embedding_dim,
            "temperature": self.temperature,
            "remove_accidental_hits": self.remove_accidental_hits,
            "seed": self.seed,
            "retrieval_loss": keras.saving.serialize_keras_object(self.retrieval_loss),
            "num_uniform_negatives": self.num_uniform_negatives,
        }
