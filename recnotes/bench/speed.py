"""Speed side by side: vectorized full-ranking evaluation vs a plain per-user loop.

The loop is the reference an evaluation is usually first written as: for
each user with a held-out item, score all items, drop the ones seen in
training, sort, and apply the one-list metrics of :mod:`recnotes.metrics`.
It must give the same numbers as the vectorized
:meth:`~recnotes.evaluation.FullRankingEvaluator.evaluate`; the bench checks
that and reports the time ratio.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from recnotes import metrics

__all__ = ["per_user_loop_evaluate", "EvaluationTiming", "time_evaluation"]


def per_user_loop_evaluate(evaluator, score_fn, ks=(10, 20, 50)) -> pd.DataFrame:
    """Recall and NDCG at ``ks``, one user at a time (a readable, slow reference).

    For each evaluated user ``u``: ``s = score_fn([u])[0]``; the candidates
    are the items ``u`` has not seen, in ascending movieId order; the ranking
    is a stable sort on ``-s`` over them (ties by movieId, as the protocol
    says); Recall@K and NDCG@K come from :func:`recnotes.metrics.recall_at_k`
    and :func:`recnotes.metrics.ndcg_at_k`.
    """
    ks = sorted({int(k) for k in ks})
    rows = {("Recall", k): [] for k in ks} | {("NDCG", k): [] for k in ks}
    for user in evaluator.eval_users:
        scores = np.asarray(score_fn(np.array([user])), dtype=np.float64)[0]
        seen = evaluator.seen[user].indices
        candidates = np.setdiff1d(np.arange(len(scores)), seen)  # ascending item index = ascending movieId
        ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
        relevant = evaluator.relevant[user].indices
        for k in ks:
            rows[("Recall", k)].append(metrics.recall_at_k(ranked, relevant, k))
            rows[("NDCG", k)].append(metrics.ndcg_at_k(ranked, relevant, k))
    table = pd.DataFrame({name: [np.mean(rows[(name, k)]) for k in ks] for name in ("Recall", "NDCG")},
                         index=pd.Index(ks, name="K"))
    return table


@dataclasses.dataclass
class EvaluationTiming:
    """Seconds of one whole evaluation, vectorized vs the per-user loop, and their agreement."""

    vectorized_seconds: float
    loop_seconds: float
    max_metric_difference: float
    users: int
    items: int

    @property
    def speedup(self) -> float:
        return self.loop_seconds / self.vectorized_seconds


def time_evaluation(evaluator, score_fn, ks=(10, 20, 50), repeats: int = 3) -> EvaluationTiming:
    """Time ``evaluator.evaluate(score_fn, ks, auc=False)`` (best of ``repeats``) and the loop (once).

    Both include computing the scores with ``score_fn``.
    """
    times = []
    for _ in range(max(1, int(repeats))):
        start = time.perf_counter()
        fast = evaluator.evaluate(score_fn, ks=ks, auc=False)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    slow = per_user_loop_evaluate(evaluator, score_fn, ks)
    loop_seconds = time.perf_counter() - start
    difference = float(np.max(np.abs(fast[["Recall", "NDCG"]].to_numpy() - slow[["Recall", "NDCG"]].to_numpy())))
    return EvaluationTiming(min(times), loop_seconds, difference, len(evaluator.eval_users), len(evaluator.item_encoder))
