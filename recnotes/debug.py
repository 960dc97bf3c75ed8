"""Tensor debugging: one-line prints that work anywhere, and NaN/Inf finders.

* :func:`print_tensor` — name, shape, dtype and values on **one line**,
  returning the tensor unchanged, so it can wrap any expression.  It prints
  through ``tf.print`` to the process's standard output, which works in eager
  code, inside ``tf.function`` and inside ``model.fit`` (graph mode); Jupyter
  (ipykernel 6+) forwards that output to the cell that runs it.
* :class:`DebugPrint` — the same as a pass-through Keras layer, optionally
  every n-th call.  **XLA cannot compile print ops**: the layer declares
  ``supports_jit = False``, so a model that contains it trains with
  ``jit_compile=False`` (Keras warns and falls back, also when
  ``jit_compile=True`` was asked for, and when ``"auto"`` would pick XLA on
  a GPU).  To inspect an XLA-compiled model, remove the layer and look at
  values outside the compiled step (e.g. ``model.predict`` or a callback).
* :class:`StopOnNonFinite` — a callback that stops training at the first
  batch whose loss is NaN or Inf and says which epoch and batch.
* :func:`first_nonfinite_layer` — runs a functional / Sequential model on a
  batch layer by layer and names the first layer whose output is not finite.
"""

from __future__ import annotations

import math
import sys

import keras
import numpy as np
import tensorflow as tf

__all__ = ["print_tensor", "DebugPrint", "StopOnNonFinite", "first_nonfinite_layer"]


def _shape_text(x):
    dims = tf.strings.as_string(tf.shape(x))
    joined = tf.strings.reduce_join(dims, separator=", ")
    comma = "," if x.shape.rank == 1 else ""
    return tf.strings.join(["(", joined, comma, ")"])


def print_tensor(x, name: str = "tensor", max_values: int = 12, edge: int = 3, output_stream=None):
    """Print ``name shape=(..) dtype=.. values=[..]`` on one line; return ``x`` unchanged.

    Tensors of up to ``max_values`` elements print every value (flattened,
    row-major); larger ones print the first and last ``edge`` values, say
    that they were summarized and how many values there are, and add
    min / mean / max for numeric dtypes.

    Works in eager code, in ``tf.function`` and in ``model.fit`` (not inside
    XLA-compiled functions: see :class:`DebugPrint`).  ``output_stream`` is
    ``sys.stdout`` (default, looked up at call time) or another stream
    ``tf.print`` accepts.

    Example::

        y = print_tensor(tf.matmul(a, b), "logits")   # logits shape=(2, 2) dtype=float32 values=[1 2 3 4]
    """
    output_stream = sys.stdout if output_stream is None else output_stream  # the current one, at call time
    x = tf.convert_to_tensor(x)
    flat = tf.reshape(x, [-1])
    size = tf.size(flat)
    prefix = tf.strings.join([f"{name} shape=", _shape_text(x), f" dtype={x.dtype.name} values="])
    numeric = x.dtype.is_floating or x.dtype.is_integer

    def text(t):  # one scalar string: tf.print quotes strings only inside a list of arguments
        return tf.strings.format("{}", t, summarize=-1)

    def print_all():
        tf.print(tf.strings.join([prefix, text(flat)]), output_stream=output_stream)
        return tf.constant(0)

    def print_summary():
        parts = [prefix, text(flat[:edge]), " ... ", text(flat[-edge:]),
                 " (summarized: ", tf.strings.as_string(size), " values)"]
        if numeric:
            as_float = tf.cast(flat, tf.float64)
            parts += [" min=", text(tf.reduce_min(as_float)), " mean=", text(tf.reduce_mean(as_float)),
                      " max=", text(tf.reduce_max(as_float))]
        tf.print(tf.strings.join(parts), output_stream=output_stream)
        return tf.constant(0)

    done = tf.cond(size <= max_values, print_all, print_summary)
    with tf.control_dependencies([done]):
        return tf.identity(x)


@keras.saving.register_keras_serializable(package="recnotes")
class DebugPrint(keras.layers.Layer):
    """Pass-through layer that prints its input with :func:`print_tensor`.

    Input shape: any.  Output: the input, unchanged.

    Args:
      label: the name printed before the shape.
      every_n: print on calls ``1, 1 + n, 1 + 2n, ...`` (counted per layer).
      max_values: as in :func:`print_tensor`.

    Not XLA-compatible (print ops cannot be compiled): ``supports_jit`` is
    False, so Keras trains a model containing it without ``jit_compile``.
    """

    def __init__(self, label: str = "debug", every_n: int = 1, max_values: int = 12, **kwargs):
        super().__init__(**kwargs)
        if int(every_n) != every_n or every_n < 1:
            raise ValueError(f"every_n must be a positive integer, got {every_n!r}")
        self.label = str(label)
        self.every_n = int(every_n)
        self.max_values = int(max_values)
        self.supports_jit = False  # after Layer.__init__, which sets it to True
        self.calls = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False, name="calls")

    def call(self, inputs):
        count = self.calls.assign_add(1)

        def show():
            return print_tensor(inputs, self.label, max_values=self.max_values)

        return tf.cond(tf.equal((count - 1) % self.every_n, 0), show, lambda: tf.identity(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "label": self.label, "every_n": self.every_n, "max_values": self.max_values}


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training at the first batch whose loss is NaN or Inf, and say where.

    After stopping, :attr:`where` is ``(epoch, batch)`` (0-based) and
    :attr:`message` the line that was printed.

    Args:
      restore_weights: keep a copy of the weights before every batch and put
        it back when stopping, so the model can be inspected in the state that
        produced the bad batch (the update from that batch has already made
        the weights NaN).  Costs a copy of the weights per batch: for debugging.
    """

    def __init__(self, restore_weights: bool = True):
        super().__init__()
        self.restore_weights = restore_weights
        self.where: tuple[int, int] | None = None
        self.message: str | None = None
        self._epoch = 0
        self._weights = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.restore_weights:
            self._weights = self.model.get_weights()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.where = (self._epoch, batch)
            self.message = (
                f"StopOnNonFinite: loss is {float(loss)} at epoch {self._epoch + 1}, batch {batch + 1} "
                "(1-based); training stopped"
                + (", weights from before that batch restored" if self.restore_weights else "")
                + ". Use recnotes.debug.first_nonfinite_layer on that batch."
            )
            print(self.message)
            self.model.stop_training = True
            if self.restore_weights and self._weights is not None:
                self.model.set_weights(self._weights)


def first_nonfinite_layer(model: keras.Model, inputs) -> str | None:
    """Name the first layer (in graph order) whose output has a NaN or Inf on ``inputs``.

    Works for functional and Sequential models (their layers' symbolic
    outputs are known).  Returns a readable message, or ``None`` if every
    output is finite.
    """
    if not hasattr(model, "inputs") or model.inputs is None:
        raise ValueError("first_nonfinite_layer needs a functional or Sequential model (called on data once)")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    probe_inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(probe_inputs, [layer.output for layer in layers])
    outputs = probe(inputs)
    if len(layers) == 1:
        outputs = [outputs]
    bad_input = [not np.isfinite(np.asarray(t)).all() for t in keras.tree.flatten(inputs)]
    if any(bad_input):
        return "the inputs already contain NaN or Inf"
    for layer, out in zip(layers, outputs):
        values = np.asarray(out)
        bad = ~np.isfinite(values)
        if bad.any():
            return (
                f"layer {layer.name!r} ({type(layer).__name__}) is the first to output a non-finite value: "
                f"{int(np.isnan(values).sum())} NaN and {int(np.isinf(values).sum())} Inf of {values.size} values, "
                f"output shape {values.shape}"
            )
    return None
