"""Where a model wins: held-out hits broken down by item popularity."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

__all__ = ["hits_by_item_bucket"]


def hits_by_item_bucket(evaluator, scores, item_counts, edges=(1, 3, 10, 30, 100), k: int = 20) -> pd.DataFrame:
    """Share of held-out (user, item) pairs found in the user's top ``k``, per item-popularity bucket.

    Every held-out pair of the evaluator (the items its metrics score) falls
    in the bucket of its item's train count: ``[edges[0], edges[1])``, ...,
    ``[edges[-1], inf)``; counts below ``edges[0]`` get their own first bucket.
    ``recall`` of a bucket = pairs whose item is in the user's top ``k`` /
    pairs in the bucket (pairs pooled over users, so each held-out
    interaction counts once).

    Args:
      evaluator: a :class:`~recnotes.evaluation.FullRankingEvaluator`.
      scores: ``[n_users, n_items]`` or a function of user indices, as for ``evaluate``.
      item_counts: ``[n_items]`` train interactions per item (evaluator item order).
      edges: increasing bucket lower bounds.
      k: the cut-off.

    Returns:
      DataFrame indexed by bucket label with columns ``pairs``, ``hits``, ``recall``.
    """
    item_counts = np.asarray(item_counts)
    n_items = len(evaluator.item_encoder)
    if item_counts.shape != (n_items,):
        raise ValueError(f"item_counts must have shape [n_items] = [{n_items}], got {list(item_counts.shape)}")
    edges = [int(e) for e in edges]
    if not edges or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must be strictly increasing, got {edges}")
    users = evaluator.eval_users
    score_fn: Callable = scores if callable(scores) else (lambda u: np.asarray(scores)[u])
    top = evaluator.top_k(score_fn(users), k, users=users)
    relevant = evaluator.relevant[users].tocoo()
    hit = (top[relevant.row] == relevant.col[:, None]).any(axis=1)
    bucket = np.searchsorted(edges, item_counts[relevant.col], side="right")  # 0: below edges[0]
    labels = [f"< {edges[0]}"] + [
        f"{lo}-{hi - 1}" if hi - 1 > lo else f"{lo}" for lo, hi in zip(edges, edges[1:])
    ] + [f">= {edges[-1]}"]
    pairs = np.bincount(bucket, minlength=len(labels))
    hits = np.bincount(bucket, weights=hit, minlength=len(labels)).astype(int)
    table = pd.DataFrame({"pairs": pairs, "hits": hits}, index=pd.Index(labels, name="item train count"))
    table["recall"] = np.where(pairs > 0, hits / np.maximum(pairs, 1), np.nan)
    return table[table.pairs > 0]  # empty buckets left out
