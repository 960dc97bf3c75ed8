"""Candidate sampling probabilities for the logQ correction.

In-batch negatives are the items of other rows of the batch, so an item is
sampled as often as it occurs in the training stream: its sampling
probability is its share of training rows.  Two ways to get it:

* :func:`item_frequencies` — exact counts over the training rows;
* :class:`StreamingFrequencyEstimator` — the hash-based streaming estimate of
  Yi et al. (RecSys 2019, Algorithm 2), for a catalogue or stream too large
  to count exactly: for every hashed item it keeps the step ``A`` it was last
  seen and a moving average ``B`` of the number of steps between sightings;
  ``1 / B`` estimates the probability that the item appears in a batch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["item_frequencies", "StreamingFrequencyEstimator"]


def item_frequencies(item_indices, num_items: int) -> np.ndarray:
    """``p[j]`` = share of rows whose item is ``j`` (``[num_items]``, sums to 1)."""
    item_indices = np.asarray(item_indices)
    if item_indices.size == 0:
        raise ValueError("item_frequencies: no rows")
    if item_indices.dtype.kind not in "iu" or item_indices.min() < 0 or item_indices.max() >= num_items:
        raise ValueError(f"item indices must be integers in [0, {num_items}), got dtype {item_indices.dtype}, "
                         f"range [{item_indices.min()}, {item_indices.max()}]")
    counts = np.bincount(item_indices, minlength=num_items).astype(np.float64)
    return counts / counts.sum()


class StreamingFrequencyEstimator:
    """Streaming estimate of how often each item appears in a batch (Yi et al. 2019).

    For each batch at step ``t`` and each item ``y`` in it, with ``h = hash(y)``::

        B[h] <- (1 - alpha) B[h] + alpha (t - A[h])
        A[h] <- t

    and the estimated per-batch sampling probability is ``1 / B[h]``.  With
    batches of ``b`` rows and an item's row share ``f``, it approaches the
    probability ``1 - (1 - f)^b`` that the item is in a batch (``b f`` for rare items).
    Collisions of the hash share one estimate: use enough buckets.

    Args:
      num_buckets: size of the hash arrays ``A`` and ``B``.
      alpha: learning rate of the moving average.
      seed: seed of the hash function's multiplier.
    """

    def __init__(self, num_buckets: int = 1 << 20, alpha: float = 0.01, seed: int = 0):
        if not isinstance(num_buckets, (int, np.integer)) or num_buckets < 1:
            raise ValueError(f"num_buckets must be a positive integer, got {num_buckets!r}")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.num_buckets = int(num_buckets)
        self.alpha = float(alpha)
        rng = np.random.default_rng(seed)
        self._multiplier = np.uint64(rng.integers(1 << 31, 1 << 62) | 1)
        self.last_step = np.zeros(self.num_buckets, dtype=np.float64)  # A
        self.gap = np.ones(self.num_buckets, dtype=np.float64)  # B (1: "every step" until seen)
        self._seen = np.zeros(self.num_buckets, dtype=bool)
        self.step = 0

    def _hash(self, ids) -> np.ndarray:
        """Seeded splitmix64 finalizer (every id bit affects the bucket), modulo num_buckets."""
        ids = np.asarray(ids)
        if ids.size and ids.dtype.kind not in "iu":
            raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
        z = ids.astype(np.int64).astype(np.uint64).reshape(-1)
        with np.errstate(over="ignore"):
            z = z + self._multiplier
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        return z % np.uint64(self.num_buckets)

    def update(self, batch_ids) -> None:
        """Record one batch (each distinct id counts once) and advance the step."""
        self.step += 1
        h = np.unique(self._hash(batch_ids)).astype(np.int64)
        first = ~self._seen[h]
        # The first sighting has no previous step to measure a gap from: start B at t.
        gap = np.where(first, self.step, self.step - self.last_step[h])
        self.gap[h] = np.where(first, gap, (1 - self.alpha) * self.gap[h] + self.alpha * gap)
        self.last_step[h] = self.step
        self._seen[h] = True

    def probability(self, ids) -> np.ndarray:
        """Estimated per-batch sampling probability of each id (0 for ids never seen)."""
        h = self._hash(ids).astype(np.int64)
        return np.where(self._seen[h], 1.0 / np.maximum(self.gap[h], 1.0), 0.0)

    def __repr__(self) -> str:
        return (
            f"StreamingFrequencyEstimator(num_buckets={self.num_buckets}, alpha={self.alpha}, "
            f"steps={self.step}, buckets_seen={int(self._seen.sum())})"
        )
