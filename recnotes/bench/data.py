"""The data every bench row is trained and scored on: one split, one evaluator."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from recnotes.data import MovieLens, load_movielens
from recnotes.evaluation import FullRankingEvaluator
from recnotes.splits import Split, chrono_split

__all__ = ["BenchData"]


@dataclasses.dataclass
class BenchData:
    """The protocol's chrono-80/10/10 split of one MovieLens folder.

    Attributes:
      movielens: the loaded folder.
      split: train / validation / test.
      evaluator: test scoring (train and validation items masked).
      seed: the seed every model trains with.
      quick: one epoch (or two iterations) per model, for smoke runs.
    """

    movielens: MovieLens
    split: Split
    evaluator: FullRankingEvaluator
    seed: int = 0
    quick: bool = False

    @classmethod
    def load(cls, data_dir, seed: int = 0, quick: bool = False) -> "BenchData":
        ml = load_movielens(data_dir)
        split = chrono_split(ml.ratings)
        return cls(ml, split, FullRankingEvaluator.from_split(split), int(seed), bool(quick))

    def epochs(self, full: int) -> int:
        """``full``, or 1 in a quick run."""
        return 1 if self.quick else int(full)

    @functools.cached_property
    def train_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Encoded ``(users [N], items [N])`` of the train rows (the evaluator's order)."""
        train = self.split.train
        return (self.evaluator.user_encoder.transform(train.userId.to_numpy()),
                self.evaluator.item_encoder.transform(train.movieId.to_numpy()))

    @functools.cached_property
    def user_items(self):
        """Binary ``[n_users, n_items]`` CSR matrix of the train rows."""
        import scipy.sparse as sp

        users, items = self.train_indices
        shape = (len(self.evaluator.user_encoder), len(self.evaluator.item_encoder))
        matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=shape)
        matrix.data[:] = 1.0  # duplicates (none after load_movielens) would sum
        return matrix

    @functools.cached_property
    def feature_tables(self):
        """``(user_table, item_table)`` of notebooks 08-09 (id, genres, year; genre profile), dim 64."""
        from recnotes.features import item_feature_table, user_feature_table

        items = item_feature_table(self.movielens.movies, self.evaluator.item_ids, self.split.train, embedding_dim=64)
        users = user_feature_table(self.split.train, self.evaluator.user_ids, self.evaluator.item_ids, items,
                                   embedding_dim=64)
        return users, items
