"""Full-batch float64 objectives on MovieLens: a convex one and a non-convex one.

Both predict ``y = [rating >= 4]`` for a (user, item) row and minimize the
mean logistic loss plus an L2 penalty, over one flat parameter vector
``theta`` (so :mod:`recnotes.optimization` can run L-BFGS and
Hessian-vector products on them):

* :class:`IdLogisticRegression` — ``logit = b + w_u + w_i`` (logistic
  regression on one-hot user and item ids).  The loss is a convex function
  of ``theta`` (a sum of convex functions of a linear map, plus a strictly
  convex L2 term), so every local minimum is the global one.
* :class:`LogisticMatrixFactorization` — ``logit = b + w_u + w_i + p_u . q_i``
  with rank-``k`` factors.  The product ``p_u . q_i`` makes it non-convex:
  ``(P, Q)`` and ``(P R, Q R)`` for any orthogonal ``R`` give the same loss,
  and ``P = Q = 0`` is a stationary point with negative curvature.

The loss of both, with ``s_n`` the logit of row ``n`` and ``lambda`` the L2
weight (the bias ``b`` is not penalized)::

    L(theta) = 1/N sum_n [log(1 + exp(s_n)) - y_n s_n] + lambda/2 ||theta without b||^2
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["rating_labels", "IdLogisticRegression", "LogisticMatrixFactorization", "procrustes_distance"]


def rating_labels(ratings, threshold: float = 4.0) -> np.ndarray:
    """``1.0`` where ``rating >= threshold``, else ``0.0`` (float64)."""
    if "rating" not in ratings:
        raise ValueError(f"ratings must have a 'rating' column, got columns {list(ratings.columns)}")
    return (ratings["rating"].to_numpy() >= threshold).astype(np.float64)


class IdLogisticRegression:
    """Logistic regression on one-hot user and item ids with L2 (convex).

    ``theta = [b, w_user (num_users), w_item (num_items)]``.

    Args:
      users, items: ``[N]`` encoded indices of the training rows.
      labels: ``[N]`` 0/1 targets.
      num_users, num_items: sizes of the id vocabularies.
      l2: the L2 weight ``lambda`` (> 0 makes the minimum unique).
    """

    rank = 0

    def __init__(self, users, items, labels, num_users: int, num_items: int, l2: float = 1e-4):
        users, items, labels = np.asarray(users), np.asarray(items), np.asarray(labels, dtype=np.float64)
        for name, size in (("num_users", num_users), ("num_items", num_items)):
            if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
                raise ValueError(f"{name} must be a positive integer, got {size!r}")
        for name, array in (("users", users), ("items", items)):
            if array.size and array.dtype.kind not in "iu":
                raise ValueError(f"{name} must be integer indices (from recnotes.data.IdEncoder), got dtype {array.dtype}")
        if not (users.shape == items.shape == labels.shape) or users.ndim != 1 or len(users) == 0:
            raise ValueError(
                f"users, items and labels must be 1-D, non-empty and of equal length, "
                f"got {users.shape}, {items.shape}, {labels.shape}"
            )
        for name, array, size in (("users", users, num_users), ("items", items, num_items)):
            if array.min() < 0 or array.max() >= size:
                raise ValueError(f"{name} must be indices in [0, {size}), got range [{array.min()}, {array.max()}]")
        if not np.isin(labels, (0.0, 1.0)).all():
            raise ValueError("labels must be 0 or 1")
        if not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, got {l2}")
        self.num_users, self.num_items, self.l2 = int(num_users), int(num_items), float(l2)
        self._users = tf.constant(users, tf.int32)
        self._items = tf.constant(items, tf.int32)
        self._labels = tf.constant(labels, tf.float64)

    @property
    def size(self) -> int:
        """Number of parameters."""
        return 1 + self.num_users + self.num_items + self.rank * (self.num_users + self.num_items)

    def unpack(self, theta) -> dict:
        """``{"bias", "user_bias", "item_bias"(, "user_factors", "item_factors")}`` views of ``theta``."""
        theta = np.asarray(theta)
        if theta.shape != (self.size,):
            raise ValueError(f"theta must have shape [{self.size}], got {list(theta.shape)}")
        u, i, k = self.num_users, self.num_items, self.rank
        parts = {"bias": theta[0], "user_bias": theta[1 : 1 + u], "item_bias": theta[1 + u : 1 + u + i]}
        if k:
            start = 1 + u + i
            parts["user_factors"] = theta[start : start + u * k].reshape(u, k)
            parts["item_factors"] = theta[start + u * k :].reshape(i, k)
        return parts

    def initial(self, seed: int, scale: float = 0.1) -> np.ndarray:
        """A random start ``theta ~ N(0, scale^2)``, one per seed."""
        return np.random.default_rng(seed).normal(0.0, scale, self.size)

    def _logits(self, theta, users, items):
        u, i = self.num_users, self.num_items
        logits = theta[0] + tf.gather(theta[1 : 1 + u], users) + tf.gather(theta[1 + u : 1 + u + i], items)
        if self.rank:
            k, start = self.rank, 1 + u + i
            p = tf.reshape(theta[start : start + u * k], (u, k))
            q = tf.reshape(theta[start + u * k :], (i, k))
            logits += tf.reduce_sum(tf.gather(p, users) * tf.gather(q, items), axis=1)
        return logits

    def loss(self, theta) -> tf.Tensor:
        """The objective ``L(theta)`` (a float64 scalar tensor)."""
        theta = tf.convert_to_tensor(theta, tf.float64)
        if theta.shape.rank != 1 or theta.shape[0] != self.size:
            raise ValueError(f"theta must have shape [{self.size}], got {theta.shape.as_list()}")
        logits = self._logits(theta, self._users, self._items)
        data = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=self._labels, logits=logits))
        return data + 0.5 * self.l2 * tf.reduce_sum(theta[1:] ** 2)

    __call__ = loss

    def predict_proba(self, theta, users, items) -> np.ndarray:
        """``P(y = 1)`` for (user, item) rows."""
        theta = tf.convert_to_tensor(theta, tf.float64)
        users, items = np.asarray(users), np.asarray(items)
        for name, array, size in (("users", users, self.num_users), ("items", items, self.num_items)):
            if array.size and (array.dtype.kind not in "iu" or array.min() < 0 or array.max() >= size):
                raise ValueError(f"{name} must be integer indices in [0, {size}), got dtype {array.dtype}, "
                                 f"range [{array.min()}, {array.max()}]")
        logits = self._logits(theta, tf.constant(np.asarray(users), tf.int32), tf.constant(np.asarray(items), tf.int32))
        return tf.sigmoid(logits).numpy()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(rows={int(self._labels.shape[0]):,}, users={self.num_users:,}, "
            f"items={self.num_items:,}, rank={self.rank}, l2={self.l2:g}, parameters={self.size:,})"
        )


class LogisticMatrixFactorization(IdLogisticRegression):
    """Logistic matrix factorization: id biases plus ``p_u . q_i`` (non-convex).

    ``theta = [b, w_user, w_item, P (num_users x rank), Q (num_items x rank)]``.
    """

    def __init__(self, users, items, labels, num_users: int, num_items: int, rank: int = 8, l2: float = 1e-4):
        if isinstance(rank, (bool, np.bool_)) or not isinstance(rank, (int, np.integer)) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        self.rank = int(rank)
        super().__init__(users, items, labels, num_users, num_items, l2)


def procrustes_distance(a, b) -> tuple[float, float]:
    """How far factor matrices ``b`` are from ``a``, before and after the best rotation.

    Returns ``(||b - a|| / ||a||, min over orthogonal R of ||b R - a|| / ||a||)``
    (Frobenius norms; ``R`` from ``scipy.linalg.orthogonal_procrustes``).
    Matrix factorizations that differ only by a rotation have aligned
    distance 0: the same solution up to the symmetry of ``p . q``.
    """
    from scipy.linalg import orthogonal_procrustes

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be matrices of equal shape, got {a.shape} and {b.shape}")
    norm = np.linalg.norm(a)
    if a.size == 0 or norm == 0:
        raise ValueError("a must be a non-empty, non-zero matrix (distances are relative to ||a||)")
    rotation, _ = orthogonal_procrustes(b, a)
    return float(np.linalg.norm(b - a) / norm), float(np.linalg.norm(b @ rotation - a) / norm)
