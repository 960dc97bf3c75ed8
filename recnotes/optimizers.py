"""Adagrad that touches only the embedding rows a batch used.

Keras 3's ``Adagrad`` keeps the update sparse for the accumulator but not
for the weights: with an embedding gradient ``g`` (a ``tf.IndexedSlices`` of
the rows ``i`` in the batch) it computes ``sqrt(accumulator + eps)`` and the
division for *every* row of the table, every step.  For a table of ``V``
rows that is ``O(V * d)`` work per step, so training slows down as the
catalogue grows although a batch only touches ``B`` rows (measured by
``python -m recnotes scale``: at 10M interactions, 130k users + items, a
step took 2.4 times as long as at 100k; 1.35 times with this optimizer).

:class:`SparseAdagrad` computes the same update on the touched rows only.
For the rows ``i_1 .. i_n`` of one gradient (an id may repeat, e.g. a popular
item twice in a batch) with values ``g_1 .. g_n``:

.. math::

    a_r \\leftarrow a_r + \\sum_{k: i_k = r} g_k^2, \\qquad
    w_r \\leftarrow w_r - \\eta \\, \\frac{\\sum_{k: i_k = r} g_k}{\\sqrt{a_r + \\epsilon}}

for every row ``r`` in the batch; other rows are not read or written.  This
is what Keras 3's ``Adagrad`` does with the same ``IndexedSlices`` (repeated
ids add their squared values to the accumulator, not the square of their
sum), so the two agree up to float rounding; ``tests/test_optimizers.py``
checks it against Keras and against a float64 numpy reference.  Dense
gradients (dense layers, biases) take Keras' own dense update.

TensorFlow backend only (recnotes' backend): the row update is a gather and
two scatters, which XLA compiles.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["SparseAdagrad"]


@keras.saving.register_keras_serializable(package="recnotes")
class SparseAdagrad(keras.optimizers.Adagrad):
    """``keras.optimizers.Adagrad`` with an ``O(batch rows)`` update for embedding gradients.

    Same arguments and config as ``keras.optimizers.Adagrad`` (so a model
    saved with it reloads with ``keras.models.load_model`` once recnotes is
    imported).  Example::

        model.compile(optimizer=SparseAdagrad(0.1, initial_accumulator_value=1e-7))
    """

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        values = tf.cast(gradient.values, dtype)
        indices = gradient.indices
        accumulator = self._accumulators[self._get_variable_index(variable)]
        self.assign_add(accumulator, tf.IndexedSlices(tf.square(values), indices, gradient.dense_shape))
        # every occurrence of a row divides by the row's accumulator after the whole batch was added;
        # scatter_sub then sums the occurrences: (sum_k g_k) / sqrt(a_r + eps)
        rows = tf.gather(accumulator.value, indices)
        step = lr * values / tf.sqrt(rows + tf.cast(self.epsilon, dtype))
        self.assign_sub(variable, tf.IndexedSlices(step, indices, gradient.dense_shape))
