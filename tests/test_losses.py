import keras
import numpy as np
import pytest

from recnotes.losses import InBatchSoftmax


def reference(q, c, temperature=1.0, ids=None, prob=None, weights=None):
    """In-batch softmax in numpy float64, written from the formula."""
    s = q.astype(np.float64) @ c.astype(np.float64).T / temperature
    if prob is not None:
        s = s - np.log(prob)[None, :]
    if ids is not None:
        same = ids[:, None] == ids[None, :]
        np.fill_diagonal(same, False)
        s = np.where(same, -np.inf, s)
    m = s.max(axis=1, keepdims=True)
    lse = np.log(np.exp(s - m).sum(axis=1)) + m[:, 0]
    per = lse - np.diag(s)
    w = np.ones(len(q)) if weights is None else weights
    return (per * w).sum() / w.sum()


def test_two_by_two_by_hand():
    # S = [[1, 0], [0, 1]]: each row's loss = log(e^1 + e^0) - 1 = log(1 + e^-1) = 0.3132617
    eye = np.eye(2, dtype="float32")
    loss = InBatchSoftmax()(eye, eye)
    assert float(loss) == pytest.approx(0.3132617, abs=1e-6)
    # temperature 0.5 doubles the scores: log(1 + e^-2) = 0.1269280
    assert float(InBatchSoftmax(temperature=0.5)(eye, eye)) == pytest.approx(0.1269280, abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_matches_numpy_float64_reference(seed):
    rng = np.random.default_rng(seed)
    b, d = 16, 8
    q = rng.normal(size=(b, d)).astype("float32")
    c = rng.normal(size=(b, d)).astype("float32")
    ids = rng.integers(0, 6, size=b)  # many accidental hits
    prob = rng.uniform(0.01, 0.5, size=b)
    w = rng.uniform(0.1, 2.0, size=b)
    assert float(InBatchSoftmax()(q, c)) == pytest.approx(reference(q, c), rel=1e-5)
    assert float(InBatchSoftmax(temperature=0.2)(q, c)) == pytest.approx(reference(q, c, 0.2), rel=1e-5)
    assert float(InBatchSoftmax()(q, c, candidate_sampling_probability=prob.astype("float32"))) == pytest.approx(
        reference(q, c, prob=prob), rel=1e-5
    )
    assert float(InBatchSoftmax(remove_accidental_hits=True)(q, c, candidate_ids=ids)) == pytest.approx(
        reference(q, c, ids=ids), rel=1e-5
    )
    assert float(InBatchSoftmax()(q, c, sample_weight=w.astype("float32"))) == pytest.approx(
        reference(q, c, weights=w), rel=1e-5
    )


def test_loss_is_log_batch_size_when_all_scores_are_equal():
    z = np.zeros((32, 4), dtype="float32")
    assert float(InBatchSoftmax()(z, z)) == pytest.approx(np.log(32), rel=1e-6)


def test_config_round_trip_and_registration():
    layer = InBatchSoftmax(temperature=0.3, remove_accidental_hits=True)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is InBatchSoftmax
    assert (clone.temperature, clone.remove_accidental_hits) == (0.3, True)


def test_bad_inputs_name_the_shapes():
    with pytest.raises(ValueError, match=r"expects query_embeddings \[B, d\] and candidate_embeddings \[B, d\]; got \(4, 3\) and \(4, 5\)"):
        InBatchSoftmax()(np.zeros((4, 3), "float32"), np.zeros((4, 5), "float32"))
    with pytest.raises(ValueError, match="remove_accidental_hits=True needs candidate_ids"):
        InBatchSoftmax(remove_accidental_hits=True)(np.eye(2, dtype="float32"), np.eye(2, dtype="float32"))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        InBatchSoftmax(temperature=0)


def test_shape_mismatch_in_batch_size_is_explained():
    with pytest.raises(ValueError, match=r"got \(2, 3\) and \(3, 3\)"):
        InBatchSoftmax()(np.zeros((2, 3), "float32"), np.zeros((3, 3), "float32"))


def test_float16_inputs_give_the_float32_loss():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 4)).astype("float16")
    c = rng.normal(size=(5, 4)).astype("float16")
    ids = np.arange(5)
    loss = InBatchSoftmax(remove_accidental_hits=True)(q, c, candidate_ids=ids)
    assert float(loss) == pytest.approx(reference(q.astype("float64"), c.astype("float64")), rel=1e-5)
