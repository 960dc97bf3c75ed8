"""Full-ranking evaluation by the benchmark protocol.

Every user gets a score for every train item; items the user already has in
train (and in validation, when scoring the test split) are removed; ties are
broken by ascending movieId; the top K is compared with the user's held-out
items.  Metrics are averaged over users with at least one held-out item.

Usage::

    ev = FullRankingEvaluator.from_split(split)      # test, masks train+validation
    scores = model_scores(ev.user_ids, ev.item_ids)  # [n_users, n_items]
    ev.evaluate(scores, ks=(10, 20, 50))             # DataFrame, one row per K
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recnotes import metrics
from recnotes.data import IdEncoder
from recnotes.splits import Split

__all__ = ["FullRankingEvaluator", "most_popular_scores"]

_RANKING_METRICS = {
    "Recall": metrics.recall_from_hits,
    "NDCG": metrics.ndcg_from_hits,
    "HitRate": metrics.hit_rate_from_hits,
    "MRR": metrics.mrr_from_hits,
}


def _matrix(frame: pd.DataFrame, users: IdEncoder, items: IdEncoder) -> sp.csr_matrix:
    """Boolean user x item matrix of the rows of ``frame`` whose ids are known."""
    u = users.transform(frame.userId.to_numpy())
    known = frame.movieId.isin(items.vocabulary).to_numpy()
    i = items.transform(frame.movieId.to_numpy()[known])
    data = np.ones(len(i), dtype=bool)
    return sp.csr_matrix((data, (u[known], i)), shape=(len(users), len(items)), dtype=bool)


def _float_scores(scores) -> np.ndarray:
    """Scores as float32 or float64 (kept as given: float32 -> float64 changes no order or tie; others -> float64)."""
    scores = np.asarray(scores)
    return scores if scores.dtype in (np.float32, np.float64) else scores.astype(np.float64)


class FullRankingEvaluator:
    """Scores a full user x item score matrix against held-out interactions.

    Args:
      train: the rows the model was fitted on.  Its movies are the item
        catalogue (ordered by ascending movieId, which breaks score ties).
      heldout: the rows to score against (test or validation).
      exclude: further frames whose items are removed from each user's
        ranking besides train (validation, when ``heldout`` is test).
      users: the user encoder; by default fitted on the users of all frames.

    Attributes:
      user_encoder, item_encoder: :class:`~recnotes.data.IdEncoder` whose
        index order defines the rows and columns of the score matrix.
      user_ids, item_ids: raw ids of those rows and columns.
    """

    def __init__(
        self,
        train: pd.DataFrame,
        heldout: pd.DataFrame,
        exclude: tuple[pd.DataFrame, ...] = (),
        users: IdEncoder | None = None,
    ):
        self.item_encoder = IdEncoder("movieId").fit(train.movieId.to_numpy())
        if users is not None and users.unknown != "error":
            raise ValueError("users must be an IdEncoder with unknown='error': every score row is a known user")
        if users is None:
            all_users = np.concatenate([f.userId.to_numpy() for f in (train, heldout, *exclude)])
            users = IdEncoder("userId").fit(all_users)
        self.user_encoder = users
        seen = _matrix(train, users, self.item_encoder)
        for frame in exclude:
            seen = seen + _matrix(frame, users, self.item_encoder)
        self.seen = seen.tocsr()
        self.relevant = _matrix(heldout, users, self.item_encoder)
        self.heldout_unscorable = int((~heldout.movieId.isin(self.item_encoder.vocabulary)).sum())
        self.relevant = (self.relevant > self.seen).tocsr()  # held-out items not seen before
        n_rel = np.asarray(self.relevant.sum(axis=1)).ravel()
        self.eval_users = np.flatnonzero(n_rel > 0)
        if len(self.eval_users) == 0:
            raise ValueError(
                f"no held-out interaction is left to evaluate: {len(heldout)} held-out row(s), "
                f"{self.heldout_unscorable} of items not in train, the rest already seen by their user"
            )
        self.n_relevant = n_rel[self.eval_users]

    @classmethod
    def from_split(cls, split: Split, on: str = "test") -> "FullRankingEvaluator":
        """Evaluator for ``split.test`` (masking train and validation) or ``split.validation``."""
        if on == "test":
            return cls(split.train, split.test, exclude=(split.validation,))
        if on == "validation":
            return cls(split.train, split.validation)
        raise ValueError(f"on must be 'test' or 'validation', got {on!r}")

    @property
    def user_ids(self) -> np.ndarray:
        return self.user_encoder.vocabulary

    @property
    def item_ids(self) -> np.ndarray:
        return self.item_encoder.vocabulary

    def top_k(self, scores: np.ndarray, k: int, users: np.ndarray | None = None) -> np.ndarray:
        """Item indices of the top ``k`` unseen items, one row per user.

        ``scores`` is ``[len(users), n_items]``; ``users`` are user indices
        (all users, in order, by default).
        """
        users = np.arange(len(self.user_encoder)) if users is None else np.asarray(users)
        return self._top_k(_float_scores(scores), k, self.seen[users].toarray())

    @staticmethod
    def _top_k(scores: np.ndarray, k: int, seen: np.ndarray) -> np.ndarray:
        """The first ``k`` columns of a stable sort on descending masked score, without sorting every row.

        Equal to ``np.argsort(-masked, axis=1, kind="stable")[:, :k]`` (ties
        by ascending column = ascending movieId): per row, ``np.partition``
        finds the k-th largest score ``t`` in linear time; only the columns
        scoring ``>= t`` (the top k and every tie with the k-th) are sorted,
        by (descending score, ascending column).
        """
        masked = np.where(seen, -np.inf, scores)
        n_items = masked.shape[1]
        if k >= n_items or masked.shape[0] == 0:
            return np.argsort(-masked, axis=1, kind="stable")[:, :k]
        threshold = -np.partition(-masked, k - 1, axis=1)[:, k - 1]
        rows, cols = np.nonzero(masked >= threshold[:, None])  # >= k columns per row, ascending within a row
        order = np.lexsort((cols, -masked[rows, cols], rows))
        starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(masked)))[:-1]])
        return cols[order][starts[:, None] + np.arange(k)]

    def evaluate(
        self,
        scores: np.ndarray | Callable[[np.ndarray], np.ndarray],
        ks=(10, 20, 50),
        auc: bool = True,
        batch_users: int = 4096,
    ) -> pd.DataFrame:
        """Metrics averaged over users with a held-out item, one row per K.

        Args:
          scores: ``[n_users, n_items]`` array aligned with ``user_ids`` and
            ``item_ids``, or a function mapping an array of user indices to
            their ``[len(users), n_items]`` scores (computed in batches).
          ks: cut-offs.
          auc: also compute AUC over each user's unseen items.

        Returns:
          DataFrame indexed by K with columns Recall, NDCG, HitRate, MRR
          (and AUC, the same for every K); ``attrs["n_users"]`` holds the
          number of users averaged over.
        """
        ks = [ks] if isinstance(ks, (int, np.integer)) else list(ks)
        for k in ks:
            metrics._check_k(k)
        ks = sorted({int(k) for k in ks})
        if int(batch_users) != batch_users or batch_users < 1:
            raise ValueError(f"batch_users must be a positive integer, got {batch_users!r}")
        n_items = len(self.item_encoder)
        if not callable(scores):
            array = np.asarray(scores)
            expected = (len(self.user_encoder), n_items)
            if array.shape != expected:
                raise ValueError(
                    f"scores must have shape [n_users, n_items] = {list(expected)} "
                    f"(rows in user_ids order, columns in item_ids order), got {list(array.shape)}"
                )
            score_fn = lambda users: array[users]  # noqa: E731
        else:
            score_fn = scores
        per_metric = {name: {k: [] for k in ks} for name in _RANKING_METRICS}
        aucs = []
        for start in range(0, len(self.eval_users), batch_users):
            users = self.eval_users[start : start + batch_users]
            batch = _float_scores(score_fn(users))
            if batch.shape != (len(users), n_items):
                raise ValueError(f"score function returned shape {list(batch.shape)}, expected {[len(users), n_items]}")
            if np.isnan(batch).any():
                row = int(np.flatnonzero(np.isnan(batch).any(axis=1))[0])
                raise ValueError(
                    f"scores contain {int(np.isnan(batch).sum())} NaN value(s) in this batch, first for "
                    f"userId {self.user_ids[users[row]]}; a model that diverged? NaN cannot be ranked"
                )
            n_rel = self.n_relevant[start : start + batch_users]
            relevant = self.relevant[users].toarray()
            seen = self.seen[users].toarray()
            top = self._top_k(batch, ks[-1], seen)
            hits = np.take_along_axis(relevant, top, axis=1)
            for name, fn in _RANKING_METRICS.items():
                for k in ks:
                    per_metric[name][k].append(fn(hits, n_rel, k))
            if auc:
                candidates = ~seen
                aucs.append(metrics.auc_from_scores(batch, relevant, candidates))
        table = pd.DataFrame(
            {name: [np.concatenate(v[k]).mean() for k in ks] for name, v in per_metric.items()},
            index=pd.Index(ks, name="K"),
        )
        if auc:
            table["AUC"] = np.nanmean(np.concatenate(aucs))
        table.attrs["n_users"] = int(len(self.eval_users))
        return table

    def __repr__(self) -> str:
        return (
            f"FullRankingEvaluator(users={len(self.user_encoder):,}, items={len(self.item_encoder):,}, "
            f"evaluated_users={len(self.eval_users):,}, heldout_rows={int(self.n_relevant.sum()):,})"
        )


def most_popular_scores(train: pd.DataFrame, evaluator: FullRankingEvaluator) -> np.ndarray:
    """MostPop: every user's score of an item is its number of train rows.

    Returns a ``[n_users, n_items]`` array aligned with the evaluator.
    """
    counts = train.movieId.value_counts()
    popularity = counts.reindex(evaluator.item_ids, fill_value=0).to_numpy(dtype=np.float64)
    return np.broadcast_to(popularity, (len(evaluator.user_encoder), len(popularity)))
