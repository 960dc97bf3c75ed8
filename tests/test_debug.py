"""recnotes.debug: prints captured at the file-descriptor level (tf.print writes to fd 1)."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from recnotes.debug import DebugPrint, StopOnNonFinite, first_nonfinite_layer, print_tensor


def lines(capfd):
    return [line for line in capfd.readouterr().out.splitlines() if line.strip()]


def test_one_line_complete_in_eager(capfd):
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    y = print_tensor(x, "x")
    assert lines(capfd) == ["x shape=(2, 2) dtype=float32 values=[1 2 3 4]"]
    np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_twelve_values_print_in_full_and_more_are_summarized(capfd):
    print_tensor(tf.range(12), "r")
    print_tensor(tf.range(13, dtype=tf.float32), "big")
    out = lines(capfd)
    assert out[0] == "r shape=(12,) dtype=int32 values=[0 1 2 3 4 5 6 7 8 9 10 11]"
    assert out[1] == "big shape=(13,) dtype=float32 values=[0 1 2] ... [10 11 12] (summarized: 13 values) min=0 mean=6 max=12"


def test_inside_tf_function(capfd):
    @tf.function
    def f(x):
        return print_tensor(x * 2, "doubled") + 1

    result = f(tf.constant([1.0, 2.0, 3.0]))
    assert lines(capfd) == ["doubled shape=(3,) dtype=float32 values=[2 4 6]"]
    np.testing.assert_array_equal(result.numpy(), [3, 5, 7])


def make_model(with_debug, every_n=1):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((1,))]
    if with_debug:
        layers.append(DebugPrint("batch", every_n=every_n))
    layers.append(keras.layers.Dense(1, kernel_initializer="ones"))
    return keras.Sequential(layers)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_debug_layer_inside_fit_prints_every_batch(capfd, jit_compile):
    x = np.arange(6, dtype="float32").reshape(6, 1)
    y = np.zeros(6, dtype="float32")
    model = make_model(True)
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)  # XLA is refused, not an error
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    out = [line for line in lines(capfd) if line.startswith("batch")]
    assert len(out) == 6  # 3 batches x 2 epochs
    for line in out:
        assert re.fullmatch(r"batch shape=\(2, 1\) dtype=float32 values=\[-?[\d.e+-]+ -?[\d.e+-]+\]", line), line
    assert out[0] == "batch shape=(2, 1) dtype=float32 values=[0 1]"  # real numbers, first batch
    assert model.jit_compile is False


def test_debug_layer_changes_nothing_and_every_n(capfd):
    x = np.arange(6, dtype="float32").reshape(6, 1)
    with_layer, without = make_model(True, every_n=2), make_model(False)
    np.testing.assert_array_equal(with_layer.predict(x, batch_size=2, verbose=0), without.predict(x, batch_size=2, verbose=0))
    out = [line for line in lines(capfd) if line.startswith("batch")]
    assert out == ["batch shape=(2, 1) dtype=float32 values=[0 1]", "batch shape=(2, 1) dtype=float32 values=[4 5]"]
    clone = DebugPrint.from_config(DebugPrint("b", every_n=3).get_config())
    assert (clone.label, clone.every_n, clone.supports_jit) == ("b", 3, False)


def test_stop_on_non_finite_names_the_batch(capfd):
    x = np.ones((8, 1), dtype="float32")
    x[5] = np.inf  # batch 3 of size 2
    model = make_model(False)
    model.compile(optimizer="sgd", loss="mse")
    stop = StopOnNonFinite()
    history = model.fit(x, np.zeros(8, "float32"), batch_size=2, epochs=3, shuffle=False, verbose=0, callbacks=[stop])
    assert stop.where == (0, 2)
    assert "at epoch 1, batch 3 (1-based)" in stop.message
    assert len(history.history["loss"]) == 1
    assert all(np.isfinite(w).all() for w in model.get_weights())  # restored from before the bad batch


def test_first_nonfinite_layer_names_the_broken_layer():
    inputs = keras.Input((2,))
    h = keras.layers.Dense(2, kernel_initializer="ones", name="dense_ok")(inputs)
    h = keras.layers.Lambda(lambda t: keras.ops.log(t - 10.0), name="bad_log")(h)  # log of a negative number
    out = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, out)
    message = first_nonfinite_layer(model, np.ones((3, 2), "float32"))
    assert message.startswith("layer 'bad_log' (Lambda) is the first to output a non-finite value: 6 NaN and 0 Inf of 6 values")
    assert first_nonfinite_layer(model, np.full((1, 2), 20.0, "float32")) is None
    assert first_nonfinite_layer(model, np.array([[np.nan, 1.0]], "float32")) == "the inputs already contain NaN or Inf"
