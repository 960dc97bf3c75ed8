import keras
import numpy as np
import pytest

from recnotes.losses import InBatchSoftmax
from recnotes.models import TwoTowerModel
from recnotes.pipeline import interaction_dataset
from recnotes.training import set_seed


def test_call_shapes_and_scores_are_dot_products():
    model = TwoTowerModel(num_users=5, num_items=7, embedding_dim=3, seed=0)
    out = model({"user": np.array([0, 4]), "item": np.array([6, 1])})
    assert tuple(out["user"].shape) == (2, 3) and tuple(out["item"].shape) == (2, 3)
    users, items = model.user_vectors(), model.item_vectors()
    assert users.shape == (5, 3) and items.shape == (7, 3)
    np.testing.assert_allclose(model.score_all_items([4, 0]), users[[4, 0]] @ items.T, rtol=1e-6)
    np.testing.assert_allclose(model.item_vectors([6]), items[[6]])


def test_compute_loss_is_the_in_batch_softmax_of_the_tower_outputs():
    model = TwoTowerModel(num_users=5, num_items=7, embedding_dim=3, seed=1, temperature=0.5)
    x = {"user": np.array([0, 1, 2, 3]), "item": np.array([1, 2, 3, 4])}
    out = model(x)
    expected = InBatchSoftmax(temperature=0.5)(out["user"], out["item"])
    assert float(model.compute_loss(x=x)) == pytest.approx(float(expected), rel=1e-6)


def test_save_and_load_keras_file_round_trip(tmp_path):
    model = TwoTowerModel(num_users=6, num_items=9, embedding_dim=4, temperature=0.7, seed=3)
    model.compile(optimizer=keras.optimizers.Adagrad(0.1))
    model.fit(interaction_dataset(np.arange(6), np.arange(6), batch_size=3, seed=0), epochs=1, verbose=0)
    path = tmp_path / "two_tower.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is TwoTowerModel
    assert loaded.get_config()["temperature"] == 0.7 and loaded.get_config()["num_items"] == 9
    np.testing.assert_array_equal(loaded.score_all_items(np.arange(6)), model.score_all_items(np.arange(6)))


def test_learns_a_one_to_one_preference():
    # 32 users, each interacting only with item (3u mod 32): after training every
    # user's top item must be its own (chance: 1/32).
    set_seed(0)
    users = np.repeat(np.arange(32), 4)
    items = (3 * users) % 32
    model = TwoTowerModel(num_users=32, num_items=32, embedding_dim=16, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    history = model.fit(interaction_dataset(users, items, batch_size=32, seed=0), epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.5 * np.log(32)
    top = model.score_all_items(np.arange(32)).argmax(axis=1)
    np.testing.assert_array_equal(top, (3 * np.arange(32)) % 32)


def test_same_seed_repeats_training_exactly():
    def train():
        set_seed(5)
        model = TwoTowerModel(num_users=20, num_items=30, embedding_dim=4, seed=5)
        model.compile(optimizer=keras.optimizers.Adagrad(0.1))
        rng = np.random.default_rng(0)
        ds = interaction_dataset(rng.integers(0, 20, 200), rng.integers(0, 30, 200), batch_size=16, seed=5)
        model.fit(ds, epochs=3, verbose=0)
        return model.item_vectors()

    np.testing.assert_array_equal(train(), train())


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="num_items must be a positive integer, got 0"):
        TwoTowerModel(num_users=3, num_items=0)


def test_out_of_range_or_negative_indices_are_refused():
    model = TwoTowerModel(num_users=3, num_items=4, embedding_dim=2, seed=0)
    with pytest.raises(ValueError, match=r"user indices must be integers in \[0, 3\), got \[-1\]"):
        model.score_all_items([-1])
    with pytest.raises(ValueError, match=r"item indices must be integers in \[0, 4\)"):
        model.item_vectors([4])


def test_mixed_negatives_add_uniform_columns():
    model = TwoTowerModel(num_users=4, num_items=50, embedding_dim=3, seed=0, num_uniform_negatives=5)
    x = {"user": np.array([0, 1, 2]), "item": np.array([3, 4, 5])}
    logits, labels = model.in_batch_logits(x)
    logits, labels = np.asarray(logits), np.asarray(labels)
    assert logits.shape == (3, 8) and labels.shape == (3, 8)
    np.testing.assert_array_equal(labels, np.eye(3, 8))
    all_scores = model.score_all_items([0, 1, 2])  # [3, 50]
    np.testing.assert_allclose(logits[:, :3], all_scores[:, [3, 4, 5]], rtol=1e-5)
    for column in logits[:, 3:].T:  # each extra column is the scores of some catalogue item
        assert np.abs(all_scores - column[:, None]).max(axis=0).min() < 1e-5
    with pytest.raises(ValueError, match="not combined with num_uniform_negatives"):
        model.in_batch_logits({**x, "item_probability": np.full(3, 0.1, "float32")})


def test_model_with_another_loss_trains_saves_and_loads(tmp_path):
    from recnotes.losses import BPR

    model = TwoTowerModel(num_users=6, num_items=9, embedding_dim=4, seed=3, retrieval_loss=BPR(), num_uniform_negatives=2)
    model.compile(optimizer=keras.optimizers.Adagrad(0.1))
    model.fit(interaction_dataset(np.arange(6), np.arange(6), batch_size=3, seed=0), epochs=1, verbose=0)
    model.save(tmp_path / "bpr.keras")
    loaded = keras.models.load_model(tmp_path / "bpr.keras")
    assert type(loaded.retrieval_loss) is BPR and loaded.num_uniform_negatives == 2
    np.testing.assert_array_equal(loaded.score_all_items(np.arange(6)), model.score_all_items(np.arange(6)))


def test_in_batch_logits_without_uniform_negatives_draws_nothing():
    model = TwoTowerModel(num_users=4, num_items=50, embedding_dim=3, seed=0, num_uniform_negatives=5)
    x = {"user": np.array([0, 1, 2]), "item": np.array([3, 4, 5])}
    state = np.asarray(model._negative_seed.state.value).copy()
    logits, _ = model.in_batch_logits(x, uniform_negatives=False)
    assert tuple(logits.shape) == (3, 3)
    np.testing.assert_array_equal(np.asarray(model._negative_seed.state.value), state)
