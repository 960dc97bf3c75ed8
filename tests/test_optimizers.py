"""SparseAdagrad: Keras' Adagrad update on the batch's rows only, checked against numpy float64 and Keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recnotes.optimizers import SparseAdagrad

LR, EPS, INIT = 0.1, 1e-7, 0.1


def _numpy_adagrad(table, steps):
    """float64 reference: per step, a_r += sum g_k^2 and w_r -= lr * sum g_k / sqrt(a_r + eps) over rows r hit."""
    w = table.astype(np.float64).copy()
    a = np.full_like(w, INIT)
    for indices, values in steps:
        squares, sums = np.zeros_like(w), np.zeros_like(w)
        np.add.at(squares, indices, values.astype(np.float64) ** 2)
        np.add.at(sums, indices, values.astype(np.float64))
        a += squares
        hit = np.unique(indices)
        w[hit] -= LR * sums[hit] / np.sqrt(a[hit] + EPS)
    return w, a


def _steps(rng, rows, dim, n_steps=4, batch=12):
    # ids drawn from a few rows, so every step repeats some of them
    return [(rng.integers(0, rows // 2, batch).astype(np.int64), rng.normal(size=(batch, dim)).astype(np.float32))
            for _ in range(n_steps)]


def test_sparse_adagrad_matches_float64_reference_with_repeated_rows():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(20, 3)).astype(np.float32)
    steps = _steps(rng, 20, 3)
    assert any(len(np.unique(i)) < len(i) for i, _ in steps)  # repeated ids are exercised
    variable = keras.Variable(table)
    optimizer = SparseAdagrad(LR, initial_accumulator_value=INIT, epsilon=EPS)
    for indices, values in steps:
        grad = tf.IndexedSlices(tf.constant(values), tf.constant(indices), tf.constant(table.shape, tf.int64))
        optimizer.apply_gradients([(grad, variable)])
    expected_w, expected_a = _numpy_adagrad(table, steps)
    np.testing.assert_allclose(variable.numpy(), expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(optimizer._accumulators[0].numpy(), expected_a, rtol=1e-5, atol=1e-7)
    untouched = np.setdiff1d(np.arange(20), np.concatenate([i for i, _ in steps]))
    assert len(untouched) >= 10
    np.testing.assert_array_equal(variable.numpy()[untouched], table[untouched])  # never read or written


def test_sparse_adagrad_equals_keras_adagrad_in_a_compiled_fit():
    def train(optimizer):
        keras.utils.set_random_seed(0)
        ids = keras.Input((3,), dtype="int32")
        embedded = keras.layers.Embedding(40, 4)(ids)  # sparse (IndexedSlices) gradient
        out = keras.layers.Dense(1)(keras.layers.Flatten()(embedded))  # dense gradients
        model = keras.Model(ids, out)
        model.compile(optimizer=optimizer, loss="mse", jit_compile=True)
        initial = model.get_weights()
        rng = np.random.default_rng(1)
        x, y = rng.integers(0, 10, (64, 3)).astype("int32"), rng.normal(size=(64, 1)).astype("float32")
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        return initial, model.get_weights()

    initial, keras_weights = train(keras.optimizers.Adagrad(LR, initial_accumulator_value=INIT))
    _, ours = train(SparseAdagrad(LR, initial_accumulator_value=INIT))
    assert np.abs(keras_weights[0][:10] - initial[0][:10]).mean() > 0.01  # the rows used really moved
    np.testing.assert_array_equal(ours[0][10:], initial[0][10:])  # rows 10-39 never appear in x
    for a, b in zip(keras_weights, ours):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_dense_gradient_takes_keras_update_exactly():
    start = np.arange(6, dtype=np.float32).reshape(2, 3)
    grad = tf.constant([[0.5, -1.0, 2.0], [0.0, 3.0, -0.25]])
    ours, theirs = keras.Variable(start), keras.Variable(start)
    SparseAdagrad(LR).apply_gradients([(grad, ours)])
    keras.optimizers.Adagrad(LR).apply_gradients([(grad, theirs)])
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # by hand: w - lr * g / sqrt(0.1 + g^2 + eps) with Keras' default initial accumulator 0.1
    np.testing.assert_allclose(ours.numpy(), start - LR * grad.numpy() / np.sqrt(0.1 + grad.numpy() ** 2 + EPS),
                               rtol=1e-6)


def test_serializes_and_reloads_with_a_model(tmp_path):
    optimizer = SparseAdagrad(0.05, initial_accumulator_value=1e-7)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is SparseAdagrad
    assert restored.get_config()["initial_accumulator_value"] == pytest.approx(1e-7)
    assert float(restored.learning_rate) == pytest.approx(0.05)
    model = keras.Sequential([keras.Input((2,), dtype="int32"), keras.layers.Embedding(5, 2), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.array([[0, 1], [2, 3]]), np.array([[1.0], [0.0]]), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is SparseAdagrad
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_fit_retrieval_model_names_the_optimizers():
    from recnotes.models.fitting import OPTIMIZERS, fit_retrieval_model

    assert "sparse_adagrad" in OPTIMIZERS
    with pytest.raises(ValueError, match="sparse_adagrad"):
        fit_retrieval_model(lambda: None, None, None, epochs=1, optimizer="sgd")


def test_fit_two_tower_trains_with_sparse_adagrad_like_adagrad(synthetic_movielens):
    from recnotes.data import load_movielens
    from recnotes.evaluation import FullRankingEvaluator
    from recnotes.splits import chrono_split
    from recnotes.training import fit_two_tower

    split = chrono_split(load_movielens(synthetic_movielens).ratings)
    evaluator = FullRankingEvaluator.from_split(split, on="validation")
    runs = {name: fit_two_tower(split.train, evaluator, epochs=2, batch_size=64, optimizer=name, seed=0)
            for name in ("adagrad", "sparse_adagrad")}
    assert type(runs["sparse_adagrad"].model.optimizer) is SparseAdagrad
    assert type(runs["adagrad"].model.optimizer) is keras.optimizers.Adagrad
    np.testing.assert_allclose(runs["sparse_adagrad"].history.history["loss"], runs["adagrad"].history.history["loss"],
                               rtol=1e-5)
    np.testing.assert_allclose(runs["sparse_adagrad"].model.item_vectors(), runs["adagrad"].model.item_vectors(),
                               rtol=1e-4, atol=1e-5)
