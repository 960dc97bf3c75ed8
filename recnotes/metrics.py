"""Top-K ranking metrics: Recall, NDCG, HitRate, MRR and AUC.

Two forms of each metric:

* on one ranked list, readable and used for hand-checked examples
  (``recall_at_k(ranked, relevant, k)``);
* vectorized over users, on a boolean hit matrix ``hits[u, r]`` = "the item
  at rank ``r`` (0-based) of user ``u``'s list is relevant" and the number of
  relevant items per user (``recall_from_hits(hits, n_relevant)``).  The
  full-ranking evaluator in :mod:`recnotes.evaluation` uses these.

Definitions (binary relevance, ranks counted from 1, ``n`` = number of
relevant items of the user):

* Recall@K = |relevant in top K| / n
* DCG@K = sum over hits at rank r <= K of 1 / log2(r + 1);
  NDCG@K = DCG@K / IDCG, IDCG = sum_{r=1}^{min(K, n)} 1 / log2(r + 1)
* HitRate@K = 1 if any relevant item is in the top K, else 0
* MRR@K = 1 / (rank of the first relevant item) if it is in the top K, else 0
* AUC = P(score of a random relevant item > score of a random irrelevant
  candidate), ties counted 1/2 (the Mann-Whitney U statistic / (n_pos n_neg)).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "recall_at_k",
    "ndcg_at_k",
    "hit_rate_at_k",
    "mrr_at_k",
    "auc_score",
    "recall_from_hits",
    "ndcg_from_hits",
    "hit_rate_from_hits",
    "mrr_from_hits",
    "auc_from_scores",
    "item_popularity_percentiles",
    "popularity_percentile",
    "catalog_coverage",
]


def _check_k(k: int):
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _top_hits(ranked, relevant, k) -> np.ndarray:
    _check_k(k)
    ranked = list(ranked)
    if len(set(ranked)) != len(ranked):
        raise ValueError("ranked contains an item more than once; a ranking lists each item once")
    relevant = set(relevant)
    if not relevant:
        raise ValueError("relevant is empty: ranking metrics are undefined for a user with no relevant item")
    return np.array([item in relevant for item in ranked[:k]], dtype=bool)


def recall_at_k(ranked, relevant, k: int) -> float:
    """Fraction of ``relevant`` found in the first ``k`` items of ``ranked``."""
    return float(_top_hits(ranked, relevant, k).sum() / len(set(relevant)))


def ndcg_at_k(ranked, relevant, k: int) -> float:
    """NDCG@k with binary gains; the ideal list has min(k, |relevant|) hits."""
    hits = _top_hits(ranked, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(k, len(set(relevant)))].sum()
    return float((hits * discounts[: len(hits)]).sum() / ideal)


def hit_rate_at_k(ranked, relevant, k: int) -> float:
    """1.0 if any relevant item is among the first ``k``, else 0.0."""
    return float(_top_hits(ranked, relevant, k).any())


def mrr_at_k(ranked, relevant, k: int) -> float:
    """Reciprocal rank of the first relevant item within the first ``k`` (0 if none)."""
    hits = _top_hits(ranked, relevant, k)
    return float(1.0 / (np.argmax(hits) + 1)) if hits.any() else 0.0


def auc_score(scores, labels) -> float:
    """AUC of one user's scores against binary labels (ties count 1/2)."""
    scores = np.asarray(scores, dtype=np.float64)[None, :]
    labels = np.asarray(labels, dtype=bool)[None, :]
    return float(auc_from_scores(scores, labels)[0])


# --- vectorized over users -------------------------------------------------


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def recall_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user Recall@k from ``hits[u, r]`` (bool, shape ``[n_users, >= k]``)."""
    _check_k(k)
    return hits[:, :k].sum(axis=1) / np.asarray(n_relevant, dtype=np.float64)


def ndcg_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user NDCG@k from a hit matrix; IDCG over min(k, n_relevant) hits."""
    _check_k(k)
    disc = _discounts(k)
    dcg = (hits[:, :k] * disc[: hits[:, :k].shape[1]]).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(disc)])
    idcg = ideal_cum[np.minimum(k, np.asarray(n_relevant))]
    return dcg / idcg


def hit_rate_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user HitRate@k (1.0 or 0.0)."""
    _check_k(k)
    return hits[:, :k].any(axis=1).astype(np.float64)


def mrr_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user MRR@k: 1 / rank of the first hit in the top k, 0 without one."""
    _check_k(k)
    top = hits[:, :k]
    first = np.argmax(top, axis=1)
    return np.where(top.any(axis=1), 1.0 / (first + 1), 0.0)


def auc_from_scores(scores: np.ndarray, labels: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
    """Per-row AUC of ``scores`` (``[n_users, n_items]``) against bool ``labels``.

    ``candidates`` (bool, same shape) restricts each row to the items that
    take part (e.g. not seen in train); positives must be candidates.  Rows
    without a positive or without a negative get NaN.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if candidates is None:
        candidates = np.ones_like(labels)
    labels = labels & candidates
    # Non-candidates are pushed below every real score so they take the lowest ranks.
    masked = np.where(candidates, scores, -np.inf)
    ranks = rankdata(masked, axis=1, method="average")
    n_out = (~candidates).sum(axis=1)
    n_pos = labels.sum(axis=1)
    n_neg = candidates.sum(axis=1) - n_pos
    rank_sum = np.where(labels, ranks - n_out[:, None], 0.0).sum(axis=1)
    u = rank_sum - n_pos * (n_pos + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


# --- beyond accuracy: what kind of items get recommended -------------------


def item_popularity_percentiles(item_counts: np.ndarray) -> np.ndarray:
    """Each item's popularity percentile: 100 x share of the other items with a strictly lower count."""
    counts = np.asarray(item_counts)
    below = np.searchsorted(np.sort(counts), counts, side="left")
    return 100.0 * below / max(len(counts) - 1, 1)


def popularity_percentile(top_items: np.ndarray, item_counts: np.ndarray) -> float:
    """Mean popularity percentile of recommended items.

    An item's percentile is the share of the *other* catalogue items with a
    strictly lower train count, times 100: 100 for an item more popular than
    all others, 0 for the least popular (ties share the lower value, so
    all-equal counts give 0).

    Args:
      top_items: ``[n_users, K]`` item indices recommended.
      item_counts: ``[n_items]`` train interaction counts.
    """
    percentile = item_popularity_percentiles(item_counts)
    top_items = _check_items(top_items, len(percentile))
    return float(percentile[top_items].mean())


def catalog_coverage(top_items: np.ndarray, num_items: int) -> float:
    """Share of the catalogue that appears in at least one user's top K."""
    return float(len(np.unique(_check_items(top_items, num_items))) / num_items)


def _check_items(top_items, num_items: int) -> np.ndarray:
    top_items = np.asarray(top_items)
    if num_items < 1:
        raise ValueError(f"the catalogue is empty (num_items={num_items})")
    if top_items.size == 0:
        raise ValueError("top_items is empty")
    if top_items.dtype.kind not in "iu" or top_items.min() < 0 or top_items.max() >= num_items:
        raise ValueError(f"top_items must be item indices in [0, {num_items}), got range [{top_items.min()}, {top_items.max()}]")
    return top_items
