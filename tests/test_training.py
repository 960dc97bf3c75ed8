import os

import pytest

from recnotes.training import Throughput


def test_throughput_ignores_the_first_epoch():
    tp = Throughput(examples_per_epoch=1000)
    tp.epoch_seconds = [4.0, 0.5, 0.25, 0.5]
    assert tp.examples_per_second == [250.0, 2000.0, 4000.0, 2000.0]
    assert tp.steady_examples_per_second == 2000.0
    assert "steady=2,000 examples/s" in repr(tp)


def test_margin_satisfied_fraction_by_hand():
    import numpy as np

    from recnotes.models import TwoTowerModel
    from recnotes.training import MarginSatisfied

    model = TwoTowerModel(num_users=2, num_items=2, embedding_dim=2)
    model.build()
    model.user_embedding.embeddings.assign(np.array([[2.0, 0.0], [0.0, 1.0]], "float32"))
    model.item_embedding.embeddings.assign(np.eye(2, dtype="float32"))
    # logits = users @ items^T = [[2, 0], [0, 1]]: row 0 leads by 2, row 1 by 1
    probe = {"user": np.array([0, 1]), "item": np.array([0, 1])}
    callback = MarginSatisfied(probe, margin=1.5)
    callback.set_model(model)
    callback.on_epoch_end(0)
    assert callback.fractions == [0.5]
    callback.margin = 1.0
    assert callback.measure() == 1.0


def test_fit_two_tower_encodes_with_the_evaluator_and_repeats_with_a_seed(bundled):
    import numpy as np

    from recnotes.evaluation import FullRankingEvaluator
    from recnotes.losses import BPR
    from recnotes.splits import chrono_split
    from recnotes.training import fit_two_tower

    split = chrono_split(bundled.ratings[bundled.ratings.userId <= 40])
    ev = FullRankingEvaluator.from_split(split)
    kwargs = dict(epochs=2, batch_size=256, embedding_dim=8, seed=1)
    a = fit_two_tower(split.train, ev, **kwargs)
    b = fit_two_tower(split.train, ev, **kwargs)
    assert a.model.num_users == len(ev.user_encoder) and a.model.num_items == len(ev.item_encoder)
    np.testing.assert_array_equal(a.model.item_vectors(), b.model.item_vectors())
    assert len(a.throughput.epoch_seconds) == 2 and "epochs=2" in repr(a)
    c = fit_two_tower(split.train, ev, logq=True, retrieval_loss=BPR(), **kwargs)
    assert np.isfinite(c.history.history["loss"]).all()


def test_steps_per_epoch_by_hand():
    from recnotes.training import steps_per_epoch

    assert steps_per_epoch(80_419, 1024) == 79  # 78 full batches + one of 547 rows
    assert steps_per_epoch(80_419, 1024, drop_remainder=True) == 78
    assert steps_per_epoch(2048, 1024) == 2


def test_catalog_cross_entropy_equals_numpy():
    import numpy as np

    from recnotes.training import catalog_cross_entropy

    rng = np.random.default_rng(0)
    scores = rng.normal(0, 3, (5, 7))
    users, items = np.array([0, 1, 4, 4, 2]), np.array([6, 0, 3, 3, 1])
    expected = np.mean([-np.log(np.exp(scores[u] / 0.5)[i] / np.exp(scores[u] / 0.5).sum()) for u, i in zip(users, items)])
    assert catalog_cross_entropy(lambda u: scores[u], users, items, temperature=0.5, batch_size=2) == pytest.approx(expected, rel=1e-12)


def test_lr_range_test_schedule_and_batch_losses_match_a_numpy_simulation():
    import keras
    import numpy as np
    import tensorflow as tf

    from recnotes.training import LearningRateRangeTest

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 1)).astype("float32")
    y = 3.0 * x[:, 0]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    test = LearningRateRangeTest(1e-3, 1.0, num_steps=8, stop_factor=1e9)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0, callbacks=[test])
    np.testing.assert_allclose(test.learning_rates, 1e-3 * 1000.0 ** (np.arange(8) / 7), rtol=1e-12)
    w, expected = 0.0, []
    for t in range(8):  # SGD on mse of y = w x, batch by batch, float64
        xb, yb = x[t * 8 : (t + 1) * 8, 0].astype(float), y[t * 8 : (t + 1) * 8].astype(float)
        expected.append(np.mean((w * xb - yb) ** 2))
        w -= test.learning_rates[t] * np.mean(2 * (w * xb - yb) * xb)
    np.testing.assert_allclose(test.losses, expected, rtol=1e-4)


def test_lr_range_test_stops_when_the_loss_diverges():
    import keras
    import numpy as np
    import tensorflow as tf

    from recnotes.training import LearningRateRangeTest

    x = np.linspace(-2, 2, 400, dtype="float32")[:, None]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    test = LearningRateRangeTest(1e-3, 100.0, num_steps=100, stop_factor=4.0)
    model.fit(tf.data.Dataset.from_tensor_slices((x, 2 * x[:, 0])).batch(4), epochs=1, verbose=0, callbacks=[test])
    assert 10 < len(test.losses) < 100  # stopped early
    assert test.smoothed[-1] > 4 * min(test.smoothed)
    assert test.learning_rates[len(test.losses) - 1] > 0.5  # SGD on this mse diverges for lr > 2 / E[2x^2] ~ 0.7
    with pytest.raises(ValueError, match="need 0 < min_lr < max_lr"):
        LearningRateRangeTest(1.0, 0.1, 10)


def test_epoch_evaluation_rows_equal_an_independent_evaluation(bundled):
    import numpy as np

    from recnotes.evaluation import FullRankingEvaluator
    from recnotes.splits import chrono_split
    from recnotes.training import EpochEvaluation, fit_two_tower

    split = chrono_split(bundled.ratings[bundled.ratings.userId <= 40])
    evaluator = FullRankingEvaluator.from_split(split, on="validation")
    curve = EpochEvaluation(evaluator, k=20)
    run = fit_two_tower(split.train, evaluator, epochs=2, batch_size=256, embedding_dim=8, callbacks=[curve])
    table = curve.table
    assert list(table.index) == [0, 1, 2]
    assert np.isnan(table.loc[0, "loss"])
    np.testing.assert_allclose(table.loss.iloc[1:], run.history.history["loss"], rtol=1e-6)
    final = evaluator.evaluate(run.model.score_all_items(np.arange(len(evaluator.user_encoder))), ks=[20], auc=False)
    assert table.loc[2, "Recall@20"] == pytest.approx(final.loc[20, "Recall"], abs=1e-12)
    assert table.loc[2, "NDCG@20"] == pytest.approx(final.loc[20, "NDCG"], abs=1e-12)


def test_fit_and_score_two_tower_equals_separate_fit_and_evaluation(bundled):
    import numpy as np

    from recnotes.evaluation import FullRankingEvaluator
    from recnotes.splits import chrono_split
    from recnotes.training import catalog_cross_entropy, fit_and_score_two_tower, fit_two_tower

    split = chrono_split(bundled.ratings[bundled.ratings.userId <= 30])
    evaluator = FullRankingEvaluator.from_split(split, on="validation")
    kwargs = dict(epochs=1, batch_size=128, embedding_dim=8, seed=3)
    point = fit_and_score_two_tower(split.train, evaluator, k=10, probe_rows=50, **kwargs)
    run = fit_two_tower(split.train, evaluator, **kwargs)
    table = evaluator.evaluate(run.model.score_all_items, ks=[10], auc=False)
    assert point["Recall@10"] == table.loc[10, "Recall"] and point["NDCG@10"] == table.loc[10, "NDCG"]
    held = evaluator.relevant.tocoo()
    assert point["heldout_ce"] == pytest.approx(catalog_cross_entropy(run.model.score_all_items, held.row, held.col), rel=1e-9)
    assert point["generalization_gap"] == pytest.approx(point["heldout_ce"] - point["train_ce"], abs=1e-12)
    assert point["train_loss"] == run.history.history["loss"][-1]
    assert 0 < point["train_ce"] < np.log(len(evaluator.item_encoder)) + 1


def test_lr_range_suggestion_ignores_the_diverged_tail():
    import numpy as np

    from recnotes.training import LearningRateRangeTest

    test = LearningRateRangeTest(1e-3, 1.0, num_steps=6)
    test.learning_rates = list(1e-3 * 10.0 ** (np.arange(6) * 0.6))
    finite = [5.0, 4.9, 3.0, 2.9, 2.95]
    test.smoothed = finite + [float("nan")]
    clean = LearningRateRangeTest(1e-3, 1.0, num_steps=6)
    clean.learning_rates, clean.smoothed = test.learning_rates[:5], finite
    assert test.suggestion == clean.suggestion
    slope = np.gradient(np.array(finite), np.log(clean.learning_rates))
    assert clean.suggestion == pytest.approx(clean.learning_rates[int(np.argmin(slope))] / 10)


def test_catalog_cross_entropy_refuses_bad_scores():
    import numpy as np

    from recnotes.training import catalog_cross_entropy

    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"score_fn returned shape \[2, 3\] for 1 users"):
        catalog_cross_entropy(lambda u: scores, np.array([0]), np.array([2]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        catalog_cross_entropy(lambda u: np.full((len(u), 3), np.nan), np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="temperature must be a positive finite number"):
        catalog_cross_entropy(lambda u: scores[u], np.array([0]), np.array([1]), temperature=0)
    with pytest.raises(ValueError, match="non-negative integer indices"):
        catalog_cross_entropy(lambda u: scores[u], np.array([0]), np.array([-1]))


def test_steps_per_execution_does_not_change_the_training_math(synthetic_movielens):
    """Several steps per tf.function call run the same steps in the same order: equal weights."""
    import numpy as np

    from recnotes.data import load_movielens
    from recnotes.evaluation import FullRankingEvaluator
    from recnotes.splits import chrono_split
    from recnotes.training import fit_two_tower

    split = chrono_split(load_movielens(synthetic_movielens).ratings)
    evaluator = FullRankingEvaluator.from_split(split)
    runs = [fit_two_tower(split.train, evaluator, epochs=3, batch_size=64, embedding_dim=8, seed=4,
                          vectorized_input=True, steps_per_execution=spe) for spe in (1, 4)]
    np.testing.assert_allclose(runs[0].model.item_vectors(), runs[1].model.item_vectors(), rtol=0, atol=1e-6)
    assert runs[0].history.history["loss"] == pytest.approx(runs[1].history.history["loss"], abs=1e-6)
    losses = runs[0].history.history["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]  # it trained
    with pytest.raises(ValueError, match="steps_per_execution must be a positive integer"):
        fit_two_tower(split.train, evaluator, epochs=1, steps_per_execution=0)


@pytest.mark.parametrize("seed", ["a", -1, 1.5, True, 2**32, None])
def test_set_seed_refuses_a_bad_seed_before_setting_anything(monkeypatch, seed):
    from recnotes.training import set_seed

    monkeypatch.setenv("PYTHONHASHSEED", "7")
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\] \(not a bool\), got "):
        set_seed(seed)
    assert os.environ["PYTHONHASHSEED"] == "7"  # later subprocesses still start


@pytest.mark.parametrize("deterministic", [1, 0, "yes", None, "AUTO"])
def test_set_seed_refuses_a_bad_deterministic(monkeypatch, deterministic):
    from recnotes.training import set_seed

    monkeypatch.setenv("PYTHONHASHSEED", "7")
    with pytest.raises(ValueError, match="deterministic must be True, False or 'auto'"):
        set_seed(0, deterministic=deterministic)
    assert os.environ["PYTHONHASHSEED"] == "7"


def test_set_seed_takes_numpy_integers_and_the_largest_seed(monkeypatch):
    import numpy as np

    from recnotes.training import set_seed

    monkeypatch.setenv("PYTHONHASHSEED", "7")
    set_seed(np.int64(3), deterministic=False)
    assert os.environ["PYTHONHASHSEED"] == "3"
    first = np.random.random()
    set_seed(3, deterministic=False)
    assert np.random.random() == first
    set_seed(2**32 - 1, deterministic=False)
    assert os.environ["PYTHONHASHSEED"] == str(2**32 - 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"learning_rate": "0.1"}, "learning_rate must be a positive finite number, got '0.1'"),
        ({"learning_rate": None}, "learning_rate must be a positive finite number, got None"),
        ({"batch_size": "64"}, r"batch_size must be an integer >= 2 \(in-batch negatives need other rows\), got '64'"),
        ({"batch_size": 1}, r"batch_size must be an integer >= 2 .*got 1"),
        ({"epochs": 2.5}, "epochs must be a positive integer, got 2.5"),
        ({"epochs": float("nan")}, "epochs must be a positive integer, got nan"),
        ({"steps_per_execution": "2"}, "steps_per_execution must be a positive integer, got '2'"),
        ({"vectorized_input": "yes"}, "vectorized_input must be True or False, got 'yes'"),
    ],
)
def test_fit_arguments_of_the_wrong_type_get_a_clear_error(kwargs, message):
    from recnotes.models.fitting import fit_retrieval_model
    from recnotes.training import fit_two_tower

    with pytest.raises(ValueError, match=message):  # checked before the (missing) data are touched
        fit_retrieval_model(lambda: None, None, None, **{"epochs": 1, **kwargs})
    with pytest.raises(ValueError, match=message):
        fit_two_tower(None, None, **{"epochs": 1, **kwargs})


def test_integral_floats_and_numpy_scalars_are_taken(synthetic_movielens):
    import numpy as np

    from recnotes.data import load_movielens
    from recnotes.evaluation import FullRankingEvaluator
    from recnotes.splits import chrono_split
    from recnotes.training import fit_two_tower

    split = chrono_split(load_movielens(synthetic_movielens).ratings)
    evaluator = FullRankingEvaluator.from_split(split)
    run = fit_two_tower(split.train, evaluator, epochs=2.0, batch_size=np.int64(64), embedding_dim=4,
                        learning_rate=np.float32(0.1), steps_per_execution=2.0, vectorized_input=np.True_)
    assert len(run.history.history["loss"]) == 2
    assert float(run.model.optimizer.learning_rate) == pytest.approx(0.1)
