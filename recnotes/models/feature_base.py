"""What the feature-based retrieval models share: in-batch loss and full-catalogue scoring."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recnotes.losses.retrieval import resolve_retrieval_loss, retrieval_logits

__all__ = ["FeatureRetrievalModel"]


class FeatureRetrievalModel(keras.Model):
    """Base of models scoring ``score(u, i) = <query(u), candidate(i)>`` from feature tables.

    Subclasses implement ``encode_users(rows)`` and ``encode_items(rows)``
    (``[B] -> [B, d]``).  Inputs are ``{"user": [B], "item": [B]}`` indices
    (from the evaluator's encoders), optionally with ``"item_probability":
    [B]`` for the logQ correction; training minimizes the in-batch softmax
    (:func:`~recnotes.losses.retrieval.retrieval_logits` + softmax cross-entropy),
    exactly as :class:`~recnotes.models.TwoTowerModel` does.
    """

    def _init_loss(self, temperature, remove_accidental_hits, retrieval_loss):
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self.retrieval_loss = resolve_retrieval_loss(retrieval_loss)

    def _loss_config(self) -> dict:
        return {
            "temperature": self.temperature,
            "remove_accidental_hits": self.remove_accidental_hits,
            "retrieval_loss": keras.saving.serialize_keras_object(self.retrieval_loss),
        }

    def call(self, inputs, training=False):
        return {"user": self.encode_users(inputs["user"], training=training),
                "item": self.encode_items(inputs["item"], training=training)}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        logits, labels = retrieval_logits(
            y_pred["user"], y_pred["item"], temperature=self.temperature, candidate_ids=x["item"],
            candidate_sampling_probability=x.get("item_probability"), remove_hits=self.remove_accidental_hits,
        )
        return self.retrieval_loss(labels, logits, sample_weight=sample_weight)

    def _vectors(self, encode, rows, size: int, name: str, batch_size: int = 4096) -> np.ndarray:
        rows = np.arange(size) if rows is None else np.asarray(rows)
        if rows.dtype.kind not in "iu" or (rows.size and (rows.min() < 0 or rows.max() >= size)):
            raise ValueError(f"{name} indices must be integers in [0, {size}), got {rows.ravel()[:5]} (dtype {rows.dtype})")
        rows = rows.astype(np.int32)
        parts = [ops.convert_to_numpy(encode(rows[s : s + batch_size], training=False))
                 for s in range(0, len(rows), batch_size)]
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, 0), np.float32)

    def user_vectors(self, users=None) -> np.ndarray:
        """Query vectors ``[len(users), d]`` as numpy (all users by default)."""
        return self._vectors(self.encode_users, users, self.num_users, "user")

    def item_vectors(self, items=None) -> np.ndarray:
        """Candidate vectors ``[len(items), d]`` as numpy (all items by default)."""
        return self._vectors(self.encode_items, items, self.num_items, "item")

    def score_all_items(self, users) -> np.ndarray:
        """Scores ``[len(users), num_items]`` of every item for the given user indices."""
        return self.user_vectors(users) @ self.item_vectors().T
