import keras
import numpy as np
import pandas as pd
import pytest

from recnotes.breakdown import hits_by_item_bucket
from recnotes.evaluation import FullRankingEvaluator
from recnotes.features import item_feature_table, user_feature_table
from recnotes.losses import InBatchSoftmax
from recnotes.models.feature_two_tower import FeatureTwoTowerModel
from recnotes.models.fitting import fit_retrieval_model
from recnotes.models.fm import FMRetrievalModel


def _data():
    rng = np.random.default_rng(0)
    movies = pd.DataFrame({
        "movieId": np.arange(1, 13) * 10,
        "title": [f"Film {i} ({1990 + i})" for i in range(12)],
        "genres": rng.choice(["Drama", "Comedy|Romance", "Action|Sci-Fi", "(no genres listed)"], 12),
    })
    rows = [(u, int(m), t) for u in range(1, 9) for t, m in enumerate(rng.choice(movies.movieId, 6, replace=False))]
    train = pd.DataFrame(rows, columns=["userId", "movieId", "timestamp"])
    users, items = np.unique(train.userId), np.unique(train.movieId)
    item_table = item_feature_table(movies, items, train, embedding_dim=4)
    user_table = user_feature_table(train, users, items, item_table, embedding_dim=4)
    return train, user_table, item_table


def test_two_tower_outputs_are_normalized_dot_products_and_the_loss_is_in_batch_softmax():
    _, users, items = _data()
    model = FeatureTwoTowerModel(users, items, hidden_units=(8,), output_dim=3, temperature=0.2, seed=0)
    x = {"user": np.array([0, 3, 5]), "item": np.array([1, 2, 7])}
    out = model(x)
    assert tuple(out["user"].shape) == (3, 3) and tuple(out["item"].shape) == (3, 3)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(out["item"]), axis=1), 1.0, rtol=1e-5)
    expected = InBatchSoftmax(temperature=0.2)(out["user"], out["item"])
    assert float(model.compute_loss(x=x)) == pytest.approx(float(expected), rel=1e-5)
    scores = model.score_all_items(np.array([3, 0]))
    np.testing.assert_allclose(scores, model.user_vectors([3, 0]) @ model.item_vectors().T, rtol=1e-6)
    assert scores.shape == (2, items.num_rows)
    with pytest.raises(ValueError, match=r"user indices must be integers in \[0, 8\)"):
        model.user_vectors([8])


def test_senet_two_tower_field_weights_and_save_load(tmp_path):
    train, users, items = _data()
    model = FeatureTwoTowerModel(users, items, hidden_units=(8,), output_dim=3, senet=True, senet_reduction=1, seed=1)
    weights = model.field_weights("item")
    assert weights.shape == (items.num_rows, 3) and np.all((weights > 0) & (weights < 1))
    assert model.field_weights("user", [0, 1]).shape == (2, 2)
    with pytest.raises(ValueError, match="side must be 'user' or 'item'"):
        model.field_weights("movie")
    with pytest.raises(ValueError, match="needs a model built with senet=True"):
        FeatureTwoTowerModel(users, items, seed=0).field_weights("user")
    path = tmp_path / "senet_two_tower.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is FeatureTwoTowerModel and loaded.senet and loaded.get_config()["hidden_units"] == [8]
    np.testing.assert_array_equal(loaded.score_all_items(np.arange(8)), model.score_all_items(np.arange(8)))
    np.testing.assert_array_equal(loaded.field_weights("item"), weights)


def test_fm_score_is_the_full_fm_minus_user_only_terms():
    _, users, items = _data()
    model = FMRetrievalModel(users, items, seed=0)
    u, i = np.array([0, 2, 7]), np.array([5, 0, items.num_rows - 1])
    score = np.sum(model.user_vectors(u).astype(np.float64) * model.item_vectors(i), axis=1)
    # independent float64 reference: the naive pairwise FM over user + item fields, plus item linear terms,
    # minus the pairs within the user's fields (constant for the user, so they do not change a ranking)
    pair = np.asarray(model.pair_fields(u, i), dtype=np.float64)
    m = len(users.features)
    def pairs(f):
        return sum(f[a] @ f[b] for a in range(len(f)) for b in range(a + 1, len(f)))
    linear = np.asarray(model.item_linear(i.astype(np.int32)), dtype=np.float64)[:, :, 0].sum(axis=1)
    expected = np.array([pairs(pair[b]) - pairs(pair[b, :m]) for b in range(3)]) + linear
    np.testing.assert_allclose(score, expected, rtol=1e-4, atol=1e-5)


def test_fm_save_load_round_trip(tmp_path):
    train, users, items = _data()
    model = FMRetrievalModel(users, items, temperature=0.5, seed=2)
    path = tmp_path / "fm.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is FMRetrievalModel and loaded.get_config()["temperature"] == 0.5
    np.testing.assert_array_equal(loaded.score_all_items(np.arange(8)), model.score_all_items(np.arange(8)))


def test_fit_retrieval_model_repeats_with_a_seed_and_learns():
    train, users, items = _data()
    unseen = next(m for m in train.movieId.unique() if m not in set(train.movieId[train.userId == 1]))
    evaluator = FullRankingEvaluator(train, pd.DataFrame({"userId": [1], "movieId": [unseen]}))
    def run():
        return fit_retrieval_model(lambda: FeatureTwoTowerModel(users, items, hidden_units=(8,), output_dim=4, seed=0),
                                   train, evaluator, epochs=2, batch_size=24, optimizer="adam", learning_rate=0.05, seed=3)
    a, b = run(), run()
    assert a.history.history["loss"] == b.history.history["loss"]
    assert a.history.history["loss"][-1] < a.history.history["loss"][0]
    with pytest.raises(ValueError, match="optimizer must be one of adagrad, sparse_adagrad, adam"):
        fit_retrieval_model(lambda: None, train, evaluator, epochs=1, optimizer="sgd")


def test_hits_by_item_bucket_by_hand():
    train = pd.DataFrame({"userId": [1, 1, 2, 2], "movieId": [10, 20, 10, 30]})
    test = pd.DataFrame({"userId": [1, 2, 2], "movieId": [30, 20, 20]})
    evaluator = FullRankingEvaluator(train, test)
    # items 10, 20, 30 (train counts 2, 1, 1); user 1 unseen: 30 -> top-1 must be 30; user 2 unseen: 20
    scores = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    table = hits_by_item_bucket(evaluator, scores, np.array([2, 1, 1]), edges=(1, 2), k=1)
    assert list(table.index) == ["1"]
    assert table.loc["1", "pairs"] == 2 and table.loc["1", "hits"] == 2  # user 2 has only item 20 left
    with pytest.raises(ValueError, match=r"item_counts must have shape \[n_items\] = \[3\], got \[2\]"):
        hits_by_item_bucket(evaluator, scores, np.array([1, 2]))
