import numpy as np
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score

from recnotes import metrics as M


def test_ndcg_at_3_cases_from_bug_reports():
    # ranking [m1, m9, m2], relevant {m1, m2, m3}: DCG = 1 + 1/log2(4) = 1.5,
    # IDCG = 1 + 1/log2(3) + 1/2 = 2.1309298 -> 0.7039181
    assert M.ndcg_at_k(["m1", "m9", "m2"], {"m1", "m2", "m3"}, 3) == pytest.approx(0.7039181, abs=1e-7)
    # one relevant item at rank 2: 1/log2(3) = 0.6309298
    assert M.ndcg_at_k(["m9", "m1", "m8"], {"m1"}, 3) == pytest.approx(0.6309298, abs=1e-7)
    # fewer relevant items (2) than K: IDCG = 1 + 1/log2(3) -> 1 / 1.6309298 = 0.6131472
    assert M.ndcg_at_k(["a", "x", "y"], {"a", "b"}, 3) == pytest.approx(0.6131472, abs=1e-7)
    assert M.recall_at_k(["m1", "m9", "m2"], {"m1", "m2", "m3"}, 3) == pytest.approx(2 / 3)


def test_hit_rate_and_mrr_by_hand():
    assert M.hit_rate_at_k(["x", "y", "a"], {"a"}, 3) == 1.0
    assert M.hit_rate_at_k(["x", "y", "a"], {"a"}, 2) == 0.0
    assert M.mrr_at_k(["x", "y", "a", "b"], {"a", "b"}, 4) == pytest.approx(1 / 3)
    assert M.mrr_at_k(["x", "y"], {"a"}, 2) == 0.0


def test_metric_input_errors():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        M.recall_at_k([1], {1}, 0)
    with pytest.raises(ValueError, match="relevant is empty"):
        M.ndcg_at_k([1], set(), 1)


@pytest.mark.parametrize("seed", range(5))
def test_vectorized_metrics_equal_the_per_list_definitions(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 30, 40, 10
    ranked = np.array([rng.permutation(n_items) for _ in range(n_users)])
    relevant = [set(rng.choice(n_items, rng.integers(1, 15), replace=False)) for _ in range(n_users)]
    hits = np.array([[i in rel for i in row] for row, rel in zip(ranked, relevant)])
    n_rel = np.array([len(r) for r in relevant])
    for vec, single in [
        (M.recall_from_hits, M.recall_at_k),
        (M.ndcg_from_hits, M.ndcg_at_k),
        (M.hit_rate_from_hits, M.hit_rate_at_k),
        (M.mrr_from_hits, M.mrr_at_k),
    ]:
        expected = [single(list(row), rel, k) for row, rel in zip(ranked, relevant)]
        np.testing.assert_allclose(vec(hits, n_rel, k), expected, rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_ndcg_agrees_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=50)  # continuous: no ties, where sklearn and we agree
    labels = np.zeros(50)
    labels[rng.choice(50, rng.integers(1, 30), replace=False)] = 1
    for k in (3, 10, 20):
        ours = M.ndcg_at_k(np.argsort(-scores), set(np.flatnonzero(labels)), k)
        assert ours == pytest.approx(ndcg_score(labels[None], scores[None], k=k), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_auc_agrees_with_scikit_learn_with_ties_and_candidates(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(8, 40)).astype(float)  # many ties
    labels = rng.random((8, 40)) < 0.2
    candidates = rng.random((8, 40)) < 0.7
    labels[:, 0], candidates[:, 0] = True, True
    labels[:, 1], candidates[:, 1] = False, True
    ours = M.auc_from_scores(scores, labels, candidates)
    for u in range(8):
        c = candidates[u]
        assert ours[u] == pytest.approx(roc_auc_score(labels[u][c], scores[u][c]), abs=1e-12)


def test_auc_by_hand_and_undefined_rows():
    # positive scores {3, 1}, negatives {2, 0}: pairs won 3 of 4 -> 0.75
    assert M.auc_score([3, 2, 1, 0], [1, 0, 1, 0]) == 0.75
    assert M.auc_score([1, 1], [1, 0]) == 0.5
    assert np.isnan(M.auc_from_scores(np.ones((1, 3)), np.zeros((1, 3), bool))[0])


def test_duplicates_in_a_ranking_and_non_integer_k_are_refused():
    with pytest.raises(ValueError, match="ranked contains an item more than once"):
        M.recall_at_k([1, 1, 1], {1}, 3)
    with pytest.raises(ValueError, match="k must be a positive integer, got 2.0"):
        M.ndcg_at_k([1, 2], {1}, 2.0)
    with pytest.raises(ValueError, match="k must be a positive integer, got -1"):
        M.recall_from_hits(np.ones((1, 3), bool), [1], -1)


def test_popularity_percentile_and_coverage_by_hand():
    counts = np.array([10, 0, 5, 5, 1])  # sorted: 0 1 5 5 10 -> percentiles 100, 0, 50, 50, 25
    assert M.popularity_percentile(np.array([[0, 1]]), counts) == pytest.approx(50.0)
    assert M.popularity_percentile(np.array([[2], [4]]), counts) == pytest.approx(37.5)
    assert M.catalog_coverage(np.array([[0, 2], [2, 3]]), 5) == pytest.approx(0.6)


def test_beyond_accuracy_metrics_check_their_indices():
    with pytest.raises(ValueError, match=r"top_items must be item indices in \[0, 4\), got range \[-1, 9\]"):
        M.catalog_coverage(np.array([[0, -1], [7, 9]]), 4)
    with pytest.raises(ValueError, match="the catalogue is empty"):
        M.catalog_coverage(np.array([[0]]), 0)
    with pytest.raises(ValueError, match="top_items is empty"):
        M.popularity_percentile(np.zeros((0, 2), int), np.array([1, 2]))


def test_item_popularity_percentiles_by_hand():
    np.testing.assert_allclose(M.item_popularity_percentiles(np.array([10, 0, 5, 5, 1])), [100, 0, 50, 50, 25])
