"""tf.data input pipelines for interaction logs."""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import tensorflow as tf

# model.fit(dataset) warns that its own shuffle=True is ignored for a tf.data
# dataset; the datasets built here shuffle themselves every epoch, so the
# warning only adds noise to notebook outputs.
warnings.filterwarnings("ignore", message="`shuffle=True` was passed, but will be ignored")

__all__ = ["interaction_dataset", "input_throughput", "diagnose_pipeline", "PipelineDiagnosis"]


_SHUFFLE_MODES = {True: "every_epoch", "every_epoch": "every_epoch", "once": "once", False: "none", "none": "none"}


def interaction_dataset(
    users,
    items,
    batch_size: int,
    shuffle: bool | str = True,
    seed: int | None = None,
    item_probability=None,
    drop_remainder: bool = False,
    shuffle_buffer: int | None = None,
    vectorized: bool = False,
) -> tf.data.Dataset:
    """(user, item) index pairs as a batched, shuffled, prefetched ``tf.data.Dataset``.

    The whole log is shuffled again at the start of every epoch
    (``reshuffle_each_iteration=True``); with a ``seed`` the sequence of
    epoch orders repeats from run to run.  Batches are prefetched so the next
    one is ready while the model trains on the current one.

    Args:
      users, items: ``[N]`` int arrays of encoded indices.
      batch_size: rows per batch.
      shuffle: ``True`` or ``"every_epoch"`` (a new order every epoch, the
        default), ``"once"`` (one random order, repeated every epoch:
        ``reshuffle_each_iteration=False``), ``False`` or ``"none"`` (the
        rows' own order, e.g. ratings.csv sorted by user).
      seed: shuffle seed.
      shuffle_buffer: rows in the shuffle buffer; ``None`` = the whole log (a
        uniform shuffle).  A buffer much smaller than the log only mixes rows
        that are close in the input order.
      item_probability: optional ``[N]`` sampling probability of each row's
        item, passed on as ``"item_probability"`` (for the logQ correction).
      drop_remainder: drop the last, smaller batch.
      vectorized: build batches without per-row work: each epoch draws one
        permutation of all rows as a single tensor op (a stateless shuffle
        seeded from ``Dataset.random(seed, rerandomize_each_iteration=True)``)
        and gathers whole batches from it.  The order is as uniform as the
        default's but a different random sequence, so results differ from
        ``vectorized=False`` by seed noise; it skips the default's per-row
        shuffle buffer, which is refilled (``len(users)`` rows, serially) at
        the start of every epoch.  Supports ``shuffle`` every epoch or none,
        and no ``shuffle_buffer``.

    Returns:
      A dataset of dicts ``{"user": [b], "item": [b] (, "item_probability": [b])}``.
    """
    users, items = np.asarray(users), np.asarray(items)
    for name, array in (("users", users), ("items", items)):
        if array.size and (array.dtype.kind not in "iu" or array.min() < 0):
            raise ValueError(
                f"{name} must be non-negative integer indices (from recnotes.data.IdEncoder), "
                f"got dtype {array.dtype}, min {array.min()}"
            )
        if array.size and array.max() > np.iinfo(np.int32).max:
            raise ValueError(f"{name} must be encoded indices below 2**31 (from recnotes.data.IdEncoder), got max {array.max()}")
    users, items = users.astype(np.int32), items.astype(np.int32)
    if users.shape != items.shape or users.ndim != 1:
        raise ValueError(f"users and items must be 1-D of equal length, got shapes {users.shape} and {items.shape}")
    if len(users) == 0:
        raise ValueError("interaction_dataset: no rows")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    features = {"user": users, "item": items}
    if item_probability is not None:
        probability = np.asarray(item_probability, dtype=np.float32)
        if probability.shape != users.shape:
            raise ValueError(f"item_probability must have one value per row, shape {users.shape}, got {probability.shape}")
        if not (np.isfinite(probability).all() and (probability > 0).all() and (probability <= 1).all()):
            raise ValueError("item_probability must be in (0, 1] for every row (a sampling probability)")
        features["item_probability"] = probability
    mode = _SHUFFLE_MODES.get(shuffle) if isinstance(shuffle, (bool, str)) else None
    if mode is None:
        raise ValueError(f"shuffle must be one of True, False, 'every_epoch', 'once', 'none'; got {shuffle!r}")
    if vectorized:
        if mode == "once" or shuffle_buffer is not None:
            raise ValueError("vectorized=True shuffles every epoch or not at all: it takes no shuffle='once' or shuffle_buffer")
        return _vectorized_batches(features, int(batch_size), mode == "every_epoch", seed, drop_remainder)
    ds = tf.data.Dataset.from_tensor_slices(features)
    buffer = len(users) if shuffle_buffer is None else shuffle_buffer
    if isinstance(buffer, (bool, np.bool_)) or not isinstance(buffer, (int, np.integer)) or buffer < 1:
        raise ValueError(f"shuffle_buffer must be a positive integer or None, got {shuffle_buffer!r}")
    if mode != "none":
        ds = ds.shuffle(int(buffer), seed=seed, reshuffle_each_iteration=(mode == "every_epoch"))
    return ds.batch(int(batch_size), drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _vectorized_batches(features: dict, batch_size: int, shuffle: bool, seed, drop_remainder: bool) -> tf.data.Dataset:
    """Whole batches gathered from one permutation per epoch (see ``interaction_dataset(vectorized=True)``)."""
    columns = {name: tf.constant(values) for name, values in features.items()}
    n = len(features["user"])
    last = n - n % batch_size if drop_remainder else n

    @tf.autograph.experimental.do_not_convert
    def epoch(epoch_seed):
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(
                tf.range(n), seed=tf.stack([epoch_seed, tf.constant(0, tf.int64)]))
        else:
            order = tf.range(n)

        @tf.autograph.experimental.do_not_convert
        def gather(start):
            rows = order[start : start + batch_size]
            return {name: tf.gather(values, rows) for name, values in columns.items()}

        return tf.data.Dataset.range(0, last, batch_size).map(gather)

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    batches = -(-last // batch_size)  # flat_map hides the length: state it, so Keras knows where an epoch ends
    return seeds.flat_map(epoch).apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass
class PipelineDiagnosis:
    """Input-only vs compute-only throughput of a training setup, and what to do next."""

    input_examples_per_second: float
    compute_examples_per_second: float
    verdict: str  # "input-bound", "borderline" or "compute-bound"
    advice: str

    def __repr__(self) -> str:
        return (
            f"input pipeline alone: {self.input_examples_per_second:,.0f} examples/s\n"
            f"training step alone:  {self.compute_examples_per_second:,.0f} examples/s\n"
            f"verdict: {self.verdict} - {self.advice}"
        )


_ADVICE = {
    "input-bound": (
        "the model waits for data: parallelize per-example work (map(..., num_parallel_calls=tf.data.AUTOTUNE)), "
        "or better vectorize it (batch first, then map on whole batches), cache() what does not change between "
        "epochs, and end the pipeline with prefetch(tf.data.AUTOTUNE)"
    ),
    "borderline": (
        "input and compute are close: add prefetch(tf.data.AUTOTUNE) so they overlap, and parallelize the map"
    ),
    "compute-bound": (
        "the input keeps up: speed up the step itself (a larger batch, steps_per_execution, jit_compile, "
        "mixed precision or a GPU)"
    ),
}


def _batch_size(batch) -> int:
    first = tf.nest.flatten(batch)[0]
    return int(first.shape[0])


def diagnose_pipeline(dataset: tf.data.Dataset, model, steps: int = 20, warmup: int = 2) -> PipelineDiagnosis:
    """Is training input-bound or compute-bound?

    * input only: iterate ``dataset`` for ``steps`` batches (after
      ``warmup``) and count examples per second;
    * compute only: keep ``steps`` batches in memory and time
      ``model.train_on_batch`` on them (the model must be compiled; it
      trains a little on them).

    Input below the compute rate means the step waits for data
    (input-bound); more than twice the compute rate, compute-bound; in
    between, borderline.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got {steps}, {warmup}")
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start, examples, cached = time.perf_counter(), 0, []
    for _ in range(steps):
        batch = next(iterator)
        examples += _batch_size(batch)
        cached.append(batch)
    input_rate = examples / (time.perf_counter() - start)

    def train(batch):
        if isinstance(batch, tuple):
            return model.train_on_batch(*batch)
        return model.train_on_batch(batch)

    for batch in cached[: max(1, warmup)]:  # trace and build the step
        train(batch)
    start = time.perf_counter()
    for batch in cached:
        train(batch)
    compute_rate = examples / (time.perf_counter() - start)

    ratio = input_rate / compute_rate
    verdict = "input-bound" if ratio < 1 else "borderline" if ratio < 2 else "compute-bound"
    return PipelineDiagnosis(input_rate, compute_rate, verdict, _ADVICE[verdict])


def input_throughput(dataset: tf.data.Dataset, max_batches: int | None = None) -> float:
    """Examples per second of iterating ``dataset`` once (or ``max_batches`` batches), doing nothing else."""
    start, examples = time.perf_counter(), 0
    for n, batch in enumerate(dataset):
        if max_batches is not None and n >= max_batches:
            break
        examples += _batch_size(batch)
    return examples / (time.perf_counter() - start)
