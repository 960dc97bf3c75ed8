"""tf.data input pipelines for interaction logs."""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow as tf

# model.fit(dataset) warns that its own shuffle=True is ignored for a tf.data
# dataset; the datasets built here shuffle themselves every epoch, so the
# warning only adds noise to notebook outputs.
warnings.filterwarnings("ignore", message="`shuffle=True` was passed, but will be ignored")

__all__ = ["interaction_dataset"]


def interaction_dataset(
    users,
    items,
    batch_size: int,
    shuffle: bool = True,
    seed: int | None = None,
    item_probability=None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """(user, item) index pairs as a batched, shuffled, prefetched ``tf.data.Dataset``.

    The whole log is shuffled again at the start of every epoch
    (``reshuffle_each_iteration=True``); with a ``seed`` the sequence of
    epoch orders repeats from run to run.  Batches are prefetched so the next
    one is ready while the model trains on the current one.

    Args:
      users, items: ``[N]`` int arrays of encoded indices.
      batch_size: rows per batch.
      shuffle: shuffle with a buffer of the full log (uniform shuffle).
      seed: shuffle seed.
      item_probability: optional ``[N]`` sampling probability of each row's
        item, passed on as ``"item_probability"`` (for the logQ correction).
      drop_remainder: drop the last, smaller batch.

    Returns:
      A dataset of dicts ``{"user": [b], "item": [b] (, "item_probability": [b])}``.
    """
    users, items = np.asarray(users), np.asarray(items)
    for name, array in (("users", users), ("items", items)):
        if array.size and (array.dtype.kind not in "iu" or array.min() < 0):
            raise ValueError(
                f"{name} must be non-negative integer indices (from recnotes.data.IdEncoder), "
                f"got dtype {array.dtype}, min {array.min()}"
            )
    users, items = users.astype(np.int32), items.astype(np.int32)
    if users.shape != items.shape or users.ndim != 1:
        raise ValueError(f"users and items must be 1-D of equal length, got shapes {users.shape} and {items.shape}")
    if len(users) == 0:
        raise ValueError("interaction_dataset: no rows")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    features = {"user": users, "item": items}
    if item_probability is not None:
        features["item_probability"] = np.asarray(item_probability, dtype=np.float32)
    ds = tf.data.Dataset.from_tensor_slices(features)
    if shuffle:
        ds = ds.shuffle(len(users), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(int(batch_size), drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
