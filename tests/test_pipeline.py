import numpy as np
import pytest
import tensorflow as tf

from recnotes.pipeline import diagnose_pipeline, interaction_dataset


def epochs_of(ds, n):
    return [np.concatenate([b["item"].numpy() for b in ds]) for _ in range(n)]


def test_every_epoch_has_every_row_once_in_a_new_order():
    items = np.arange(100)
    ds = interaction_dataset(np.zeros(100, dtype=int), items, batch_size=32, seed=1)
    first, second = epochs_of(ds, 2)
    np.testing.assert_array_equal(np.sort(first), items)
    np.testing.assert_array_equal(np.sort(second), items)
    assert not np.array_equal(first, second)  # reshuffled every epoch
    assert [len(b["item"]) for b in ds] == [32, 32, 32, 4]


def test_seed_repeats_the_sequence_of_epoch_orders():
    make = lambda: interaction_dataset(np.zeros(50, dtype=int), np.arange(50), batch_size=8, seed=3)  # noqa: E731
    for a, b in zip(epochs_of(make(), 3), epochs_of(make(), 3)):
        np.testing.assert_array_equal(a, b)


def test_no_shuffle_keeps_order_and_pairs_stay_aligned():
    users, items = np.arange(10), np.arange(10) * 7
    batches = list(interaction_dataset(users, items, batch_size=4, shuffle=False, item_probability=np.full(10, 0.1)))
    np.testing.assert_array_equal(np.concatenate([b["item"] for b in batches]), items)
    assert batches[0]["user"].dtype == tf.int32
    assert batches[0]["item_probability"].numpy().tolist() == pytest.approx([0.1] * 4)
    shuffled = interaction_dataset(users, items, batch_size=10, seed=0)
    batch = next(iter(shuffled))
    np.testing.assert_array_equal(batch["item"].numpy(), batch["user"].numpy() * 7)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"users and items must be 1-D of equal length, got shapes \(3,\) and \(2,\)"):
        interaction_dataset([1, 2, 3], [1, 2], batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        interaction_dataset([1], [1], batch_size=0)
    with pytest.raises(ValueError, match="no rows"):
        interaction_dataset([], [], batch_size=1)


def test_negative_or_float_indices_are_refused():
    with pytest.raises(ValueError, match="users must be non-negative integer indices .* min -1"):
        interaction_dataset([-1], [0], batch_size=1)
    with pytest.raises(ValueError, match="items must be non-negative integer indices .*got dtype float64"):
        interaction_dataset([0], [1.9], batch_size=1)


def test_diagnose_pipeline_tells_input_bound_from_compute_bound():
    import time

    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64 * 30, 8)).astype("float32")
    y = rng.normal(size=(64 * 30, 1)).astype("float32")

    def slow_rows():
        for i in range(len(x)):
            if i % 64 == 0:
                time.sleep(0.03)  # a slow per-batch read
            yield x[i], y[i]

    spec = (tf.TensorSpec((8,), tf.float32), tf.TensorSpec((1,), tf.float32))
    slow = tf.data.Dataset.from_generator(slow_rows, output_signature=spec).batch(64)
    small = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    small.compile(optimizer="sgd", loss="mse")
    diagnosis = diagnose_pipeline(slow, small, steps=10)
    assert diagnosis.verdict == "input-bound"
    assert diagnosis.input_examples_per_second < diagnosis.compute_examples_per_second
    assert "num_parallel_calls" in repr(diagnosis)

    fast = tf.data.Dataset.from_tensor_slices((x, y)).batch(64).cache().prefetch(tf.data.AUTOTUNE)
    big = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2048, activation="relu"),
                            keras.layers.Dense(2048, activation="relu"), keras.layers.Dense(1)])
    big.compile(optimizer="sgd", loss="mse")
    diagnosis = diagnose_pipeline(fast, big, steps=10)
    assert diagnosis.verdict == "compute-bound"
    assert diagnosis.input_examples_per_second > 2 * diagnosis.compute_examples_per_second


def test_shuffle_once_repeats_one_random_order_every_epoch():
    ds = interaction_dataset(np.zeros(40, dtype=int), np.arange(40), batch_size=16, seed=2, shuffle="once")
    first, second, third = epochs_of(ds, 3)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(second, third)
    assert not np.array_equal(first, np.arange(40))
    np.testing.assert_array_equal(np.sort(first), np.arange(40))


def test_small_shuffle_buffer_only_mixes_nearby_rows():
    n, buffer = 200, 10
    ds = interaction_dataset(np.zeros(n, dtype=int), np.arange(n), batch_size=50, seed=0, shuffle_buffer=buffer)
    order = epochs_of(ds, 1)[0]
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    # the k-th output is drawn from a buffer holding inputs < k + buffer
    assert all(order[k] < k + buffer for k in range(n))
    assert not np.array_equal(order, np.arange(n))
    unshuffled = interaction_dataset(np.zeros(n, dtype=int), np.arange(n), batch_size=50, seed=0, shuffle_buffer=1)
    np.testing.assert_array_equal(epochs_of(unshuffled, 1)[0], np.arange(n))  # a buffer of one row cannot reorder


def test_bad_shuffle_arguments_are_named():
    with pytest.raises(ValueError, match=r"shuffle must be one of True, False, 'every_epoch', 'once', 'none'; got 'always'"):
        interaction_dataset(np.zeros(4, dtype=int), np.arange(4), batch_size=2, shuffle="always")
    with pytest.raises(ValueError, match="shuffle_buffer must be a positive integer or None, got 0"):
        interaction_dataset(np.zeros(4, dtype=int), np.arange(4), batch_size=2, shuffle_buffer=0)


def _epochs(ds, n):
    out = []
    iterator_source = ds
    for _ in range(n):  # each `for` over a dataset is one epoch, as in model.fit
        out.append([{k: v.numpy() for k, v in b.items()} for b in iterator_source])
    return out


def test_vectorized_pipeline_gives_every_row_once_per_epoch_in_a_new_order():
    users = np.arange(1000, dtype=np.int64) % 37
    items = np.arange(1000, dtype=np.int64)
    probability = (items + 1) / 1001.0
    ds = interaction_dataset(users, items, batch_size=64, seed=5, item_probability=probability, vectorized=True)
    epochs = _epochs(ds, 2)
    orders = []
    for batches in epochs:
        assert [len(b["item"]) for b in batches] == [64] * 15 + [40]
        order = np.concatenate([b["item"] for b in batches])
        np.testing.assert_array_equal(np.sort(order), items)  # each row exactly once
        np.testing.assert_array_equal(np.concatenate([b["user"] for b in batches]), order % 37)  # columns aligned
        np.testing.assert_allclose(np.concatenate([b["item_probability"] for b in batches]), (order + 1) / 1001.0, rtol=1e-6)
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])  # reshuffled every epoch
    assert not np.array_equal(orders[0], items)
    # the same seed repeats the sequence of epoch orders; another seed does not
    again = _epochs(interaction_dataset(users, items, batch_size=64, seed=5, vectorized=True), 2)
    for batches, order in zip(again, orders):
        np.testing.assert_array_equal(np.concatenate([b["item"] for b in batches]), order)
    other = _epochs(interaction_dataset(users, items, batch_size=64, seed=6, vectorized=True), 1)[0]
    assert not np.array_equal(np.concatenate([b["item"] for b in other]), orders[0])


def test_vectorized_pipeline_without_shuffle_keeps_file_order_and_checks_options():
    items = np.arange(10)
    batches = _epochs(interaction_dataset(items, items, batch_size=4, shuffle=False, vectorized=True, drop_remainder=True), 1)[0]
    assert [b["item"].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="vectorized=True shuffles every epoch or not at all"):
        interaction_dataset(items, items, batch_size=4, shuffle="once", vectorized=True)
    with pytest.raises(ValueError, match="vectorized=True shuffles every epoch or not at all"):
        interaction_dataset(items, items, batch_size=4, shuffle_buffer=3, vectorized=True)
