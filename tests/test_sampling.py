import numpy as np
import pytest

from recnotes.sampling import StreamingFrequencyEstimator, item_frequencies


def test_item_frequencies_by_hand():
    np.testing.assert_allclose(item_frequencies([0, 2, 2, 3], 5), [0.25, 0, 0.5, 0.25, 0])
    with pytest.raises(ValueError, match=r"item indices must be integers in \[0, 3\)"):
        item_frequencies([0, 3], 3)
    with pytest.raises(ValueError, match="no rows"):
        item_frequencies([], 3)


def test_streaming_estimate_follows_exact_counts():
    # A Zipf-like stream: the estimator (Yi et al. 2019) sees only batches of ids
    # and must recover each item's per-batch probability 1 - (1 - f)^b from exact counts f.
    rng = np.random.default_rng(0)
    n, b, steps = 300, 32, 6000
    p = 1.0 / np.arange(1, n + 1)
    p /= p.sum()
    ids = 10_000 + 37 * np.arange(n)  # raw ids, not contiguous
    est = StreamingFrequencyEstimator(num_buckets=1 << 15, alpha=0.02, seed=1)
    stream = rng.choice(n, size=(steps, b), p=p)
    for batch in stream:
        est.update(ids[batch])
    f = item_frequencies(stream.ravel(), n)  # exact counts of the same stream
    exact = 1 - (1 - f) ** b
    estimate = est.probability(ids)
    relative = np.abs(estimate - exact) / exact
    assert np.median(relative) < 0.1
    assert np.corrcoef(np.log(estimate), np.log(exact))[0, 1] > 0.98
    assert est.probability([5]).tolist() == [0.0]  # never seen
    assert "steps=6000" in repr(est)


def test_estimator_by_hand():
    est = StreamingFrequencyEstimator(num_buckets=1 << 10, alpha=0.5)
    est.update([1])  # step 1: first sighting, gap starts at 1
    est.update([2])
    est.update([1])  # step 3: gap 2 -> B = 0.5 * 1 + 0.5 * 2 = 1.5
    assert est.probability([1])[0] == pytest.approx(1 / 1.5)
    assert est.probability([2])[0] == pytest.approx(1 / 2)  # first seen at step 2: B = 2
    with pytest.raises(ValueError, match="alpha must be in"):
        StreamingFrequencyEstimator(alpha=0)


def test_hash_uses_every_id_bit():
    est = StreamingFrequencyEstimator()  # 2**20 buckets
    ids = 12345 + np.arange(1000, dtype=np.int64) * (1 << 37)  # differ only above bit 37
    assert len(np.unique(est._hash(ids))) > 990
    strided = np.arange(1000, dtype=np.int64) * 1024
    assert len(np.unique(StreamingFrequencyEstimator(num_buckets=1024)._hash(strided))) > 550  # random-like (~647)
    with pytest.raises(ValueError, match="ids must be integers, got dtype float64"):
        est.update([1.7])
