import numpy as np
import pandas as pd
import pytest

from conftest import frame
from recnotes.evaluation import FullRankingEvaluator, most_popular_scores
from recnotes.splits import Split, chrono_split

# The benchmark protocol's reference figures for MostPop on chrono-80/10/10.
PROTOCOL_MOSTPOP = {
    10: {"Recall": 0.0358, "NDCG": 0.0490},
    20: {"Recall": 0.0650, "NDCG": 0.0571},
    50: {"Recall": 0.1219, "NDCG": 0.0745},
}


def test_mostpop_reproduces_the_protocol_to_4_decimals(bundled):
    split = chrono_split(bundled.ratings)
    ev = FullRankingEvaluator.from_split(split)
    assert (len(ev.user_encoder), len(ev.item_encoder), len(ev.eval_users)) == (610, 8_230, 608)
    table = ev.evaluate(most_popular_scores(split.train, ev), ks=(10, 20, 50))
    for k, expected in PROTOCOL_MOSTPOP.items():
        for metric, value in expected.items():
            assert round(table.loc[k, metric], 4) == value, (metric, k, table.loc[k, metric])
    assert table.attrs["n_users"] == 608


def tiny_split():
    # items 10, 20, 30, 40 in train; user 1 saw 10 (train) and 20 (validation); user 3 has no test item
    train = frame([(1, 10, 1), (2, 20, 1), (2, 30, 2), (3, 40, 1), (3, 10, 2)])
    validation = frame([(1, 20, 3)])
    test = frame([(1, 30, 4), (1, 40, 5), (2, 10, 3), (2, 99, 4)])  # 99 is unknown: unscorable
    return Split(train, validation, test)


def test_tiny_case_by_hand_masks_seen_items_and_breaks_ties_by_movie_id():
    ev = FullRankingEvaluator.from_split(tiny_split())
    assert ev.item_ids.tolist() == [10, 20, 30, 40]
    assert ev.eval_users.tolist() == [0, 1] and ev.n_relevant.tolist() == [2, 1]
    assert ev.heldout_unscorable == 1
    scores = np.zeros((3, 4))  # all tied: ranking is by ascending movieId
    # user 1 (seen 10, 20): ranking [30, 40] -> hits at ranks 1, 2
    # user 2 (seen 20, 30): ranking [10, 40] -> hit at rank 1
    np.testing.assert_array_equal(ev.top_k(scores, 2), [[2, 3], [0, 3], [1, 2]])
    table = ev.evaluate(scores, ks=(1, 2), auc=False)
    assert table.loc[1, "Recall"] == pytest.approx((1 / 2 + 1) / 2)
    assert table.loc[2, "Recall"] == pytest.approx(1.0)
    assert table.loc[1, "NDCG"] == 1.0  # IDCG@1 = 1 for both users
    assert table.loc[2, "NDCG"] == pytest.approx(1.0)
    assert table.loc[2, "MRR"] == 1.0 and table.loc[1, "HitRate"] == 1.0
    # higher score wins over movieId order: user 2 scores 40 highest -> 10 drops to rank 2
    scores[1, 3] = 1.0
    table = ev.evaluate(scores, ks=(1, 2), auc=False)
    assert table.loc[1, "Recall"] == pytest.approx((1 / 2 + 0) / 2)
    assert table.loc[2, "NDCG"] == pytest.approx((1.0 + 1 / np.log2(3)) / 2)  # user 2: hit at rank 2
    assert table.loc[2, "MRR"] == pytest.approx((1.0 + 1 / 2) / 2)


def test_validation_evaluator_masks_train_only():
    ev = FullRankingEvaluator.from_split(tiny_split(), on="validation")
    assert ev.eval_users.tolist() == [0] and ev.n_relevant.tolist() == [1]
    table = ev.evaluate(np.zeros((3, 4)), ks=(1,), auc=False)
    assert table.loc[1, "Recall"] == 1.0  # user 1's unseen items by movieId: 20 first


def test_score_function_and_batches_give_the_same_table(bundled):
    split = chrono_split(bundled.ratings[bundled.ratings.userId <= 100])
    ev = FullRankingEvaluator.from_split(split)
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(len(ev.user_encoder), len(ev.item_encoder)))
    a = ev.evaluate(scores)
    b = ev.evaluate(lambda users: scores[users], batch_users=7)
    pd.testing.assert_frame_equal(a, b)
    assert 0.45 < a.loc[10, "AUC"] < 0.55  # random scores: AUC near 1/2


def test_wrong_score_shape_is_explained():
    ev = FullRankingEvaluator.from_split(tiny_split())
    with pytest.raises(ValueError, match=r"scores must have shape \[n_users, n_items\] = \[3, 4\].*got \[3, 5\]"):
        ev.evaluate(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="on must be 'test' or 'validation'"):
        FullRankingEvaluator.from_split(tiny_split(), on="train")


def test_nan_scores_empty_heldout_and_bad_arguments_are_explained():
    ev = FullRankingEvaluator.from_split(tiny_split())
    scores = np.zeros((3, 4))
    scores[1, 2] = np.nan
    with pytest.raises(ValueError, match="scores contain 1 NaN value\\(s\\) in this batch, first for userId 2"):
        ev.evaluate(scores)
    with pytest.raises(ValueError, match="batch_users must be a positive integer"):
        ev.evaluate(np.zeros((3, 4)), batch_users=0)
    assert ev.evaluate(np.zeros((3, 4)), ks=2, auc=False).index.tolist() == [2]
    split = tiny_split()
    with pytest.raises(ValueError, match="no held-out interaction is left to evaluate: 1 held-out row\\(s\\), 0 of items not in train"):
        FullRankingEvaluator(split.train, split.train.iloc[:1])


def test_partial_top_k_equals_a_full_stable_sort():
    """The partition-based top-K picks exactly what a stable argsort on -score picks (ties, +-inf, short rows)."""
    rng = np.random.default_rng(11)
    for trial in range(400):
        n_items, n_users = int(rng.integers(1, 40)), int(rng.integers(1, 6))
        k = int(rng.integers(1, n_items + 3))
        scores = rng.integers(0, 4, (n_users, n_items)).astype(float)  # heavy ties
        if trial % 3 == 0:
            scores[rng.random(scores.shape) < 0.2] = np.inf
        if trial % 5 == 0:
            scores[rng.random(scores.shape) < 0.2] = -np.inf
        seen = rng.random(scores.shape) < 0.5
        expected = np.argsort(-np.where(seen, -np.inf, scores), axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(FullRankingEvaluator._top_k(scores, k, seen), expected)
