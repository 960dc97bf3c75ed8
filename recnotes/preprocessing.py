"""Raw interaction rows to model features, as tf.data pipelines of increasing speed.

The preprocessing is the same in every variant: raw ``userId`` / ``movieId``
to contiguous indices (a hash-table lookup) and the movie's genres as a
multi-hot vector.  The variants differ only in *how* tf.data runs it:

=====================  =========================================================
``"python_generator"``  a Python generator does the lookups row by row
``"map"``               ``from_tensor_slices`` + ``map`` per example, sequential
``"parallel_map"``      the same map with ``num_parallel_calls=AUTOTUNE``
``"vectorized"``        ``batch`` first, then one ``map`` over the whole batch
``"vectorized_cache"``  vectorized, ``cache()`` after the map, then ``prefetch``
=====================  =========================================================

Every variant ends with ``prefetch`` except ``python_generator`` and
``map`` (the naive baselines) and yields the same batches, in the same order
(no shuffling here: this module is about speed).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import tensorflow as tf

__all__ = ["VARIANTS", "FeatureTables", "feature_dataset"]

VARIANTS = ("python_generator", "map", "parallel_map", "vectorized", "vectorized_cache")


@dataclasses.dataclass
class FeatureTables:
    """Vocabularies and the item -> genres multi-hot matrix.

    Attributes:
      user_ids, item_ids: sorted raw ids; index ``i`` is the ``i``-th id.
      genres: genre names, the columns of ``item_genres``.
      item_genres: ``[n_items, n_genres]`` float32, 1 where the movie has the genre.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    genres: list
    item_genres: np.ndarray

    @classmethod
    def from_frames(cls, ratings: pd.DataFrame, movies: pd.DataFrame) -> "FeatureTables":
        user_ids = np.unique(ratings.userId.to_numpy())
        item_ids = np.unique(ratings.movieId.to_numpy())
        genre_lists = movies.set_index("movieId").genres.reindex(item_ids).fillna("").str.split("|")
        genres = sorted({g for gs in genre_lists for g in gs if g and g != "(no genres listed)"})
        column = {g: j for j, g in enumerate(genres)}
        matrix = np.zeros((len(item_ids), len(genres)), dtype=np.float32)
        for i, gs in enumerate(genre_lists):
            for g in gs:
                if g in column:
                    matrix[i, column[g]] = 1.0
        return cls(user_ids, item_ids, genres, matrix)

    def __repr__(self) -> str:
        return f"FeatureTables(users={len(self.user_ids):,}, items={len(self.item_ids):,}, genres={len(self.genres)})"


def _table(ids: np.ndarray) -> tf.lookup.StaticHashTable:
    init = tf.lookup.KeyValueTensorInitializer(
        tf.constant(ids, tf.int64), tf.range(len(ids), dtype=tf.int64)
    )
    return tf.lookup.StaticHashTable(init, default_value=-1)


def feature_dataset(users, items, tables: FeatureTables, batch_size: int, variant: str = "vectorized_cache") -> tf.data.Dataset:
    """Batches ``{"user": [b], "item": [b], "item_genres": [b, G]}`` from raw ids.

    Args:
      users, items: ``[N]`` raw ``userId`` / ``movieId`` values.
      tables: vocabularies and genres (:class:`FeatureTables`).
      batch_size: rows per batch.
      variant: one of :data:`VARIANTS` (see the module docstring).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    genres = tables.item_genres
    if variant == "python_generator":
        user_index = {u: i for i, u in enumerate(tables.user_ids.tolist())}
        item_index = {m: i for i, m in enumerate(tables.item_ids.tolist())}

        def rows():
            for u, m in zip(users.tolist(), items.tolist()):
                i = item_index.get(m, -1)
                yield {"user": user_index.get(u, -1), "item": i, "item_genres": genres[i] if i >= 0 else np.zeros(genres.shape[1], np.float32)}

        signature = {
            "user": tf.TensorSpec((), tf.int64),
            "item": tf.TensorSpec((), tf.int64),
            "item_genres": tf.TensorSpec((genres.shape[1],), tf.float32),
        }
        return tf.data.Dataset.from_generator(rows, output_signature=signature).batch(batch_size)

    user_table, item_table = _table(tables.user_ids), _table(tables.item_ids)
    genre_matrix = tf.constant(np.vstack([genres, np.zeros((1, genres.shape[1]), np.float32)]))  # last row: unknown

    def features(u, m):  # works on a scalar (per example) or a vector (per batch)
        i = item_table.lookup(m)
        row = tf.where(i >= 0, i, len(tables.item_ids))
        return {"user": user_table.lookup(u), "item": i, "item_genres": tf.gather(genre_matrix, row)}

    ds = tf.data.Dataset.from_tensor_slices((users, items))
    if variant == "map":
        return ds.map(features).batch(batch_size)
    if variant == "parallel_map":
        return ds.map(features, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).map(features, num_parallel_calls=tf.data.AUTOTUNE)
    if variant == "vectorized_cache":
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE)
