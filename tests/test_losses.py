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
    with pytest.raises(ValueError, match=r"in-batch retrieval expects query_embeddings \[B, d\] and candidate_embeddings \[N, d\] with N >= B \(the B positives first\); got \(4, 3\) and \(4, 5\)"):
        InBatchSoftmax()(np.zeros((4, 3), "float32"), np.zeros((4, 5), "float32"))
    with pytest.raises(ValueError, match="remove_accidental_hits=True needs candidate_ids"):
        InBatchSoftmax(remove_accidental_hits=True)(np.eye(2, dtype="float32"), np.eye(2, dtype="float32"))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        InBatchSoftmax(temperature=0)


def test_shape_mismatch_in_batch_size_is_explained():
    with pytest.raises(ValueError, match=r"got \(3, 3\) and \(2, 3\)"):
        InBatchSoftmax()(np.zeros((3, 3), "float32"), np.zeros((2, 3), "float32"))


def test_float16_inputs_give_the_float32_loss():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 4)).astype("float16")
    c = rng.normal(size=(5, 4)).astype("float16")
    ids = np.arange(5)
    loss = InBatchSoftmax(remove_accidental_hits=True)(q, c, candidate_ids=ids)
    assert float(loss) == pytest.approx(reference(q.astype("float64"), c.astype("float64")), rel=1e-5)


# --- the corrections and the pointwise / pairwise losses (issue: losses) -----

import tensorflow as tf  # noqa: E402

from recnotes.losses import (  # noqa: E402
    BPR,
    BinaryCrossEntropy,
    PairwiseHinge,
    SoftmaxCrossEntropy,
    logq_correction,
    remove_accidental_hits,
)


def softmax_ce_ref(logits, labels):
    logits = np.asarray(logits, np.float64)
    m = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=1)) + m[:, 0]
    return lse - (labels * logits).sum(axis=1)


def test_logq_sign_case_from_bug_report():
    logits = np.array([[2, 1, 0.5], [0.5, 1.5, 0.2], [1, 0.3, 1.2]], "float32")
    labels = np.eye(3, dtype="float32")
    q = np.array([0.5, 0.3, 0.2], "float32")
    ce = SoftmaxCrossEntropy()
    assert float(ce(labels, logq_correction(logits, q))) == pytest.approx(0.5775157, abs=1e-6)
    assert float(ce(labels, logits)) == pytest.approx(0.5864026, abs=1e-6)
    wrong_sign = logits + np.log(q)[None, :]
    assert float(ce(labels, wrong_sign)) == pytest.approx(0.7171575, abs=1e-6)
    # The same through InBatchSoftmax: with candidates = identity, q c^T = logits.
    assert float(InBatchSoftmax()(logits, np.eye(3, dtype="float32"), candidate_sampling_probability=q)) == pytest.approx(0.5775157, abs=1e-6)


def test_accidental_hit_case_from_bug_report():
    # one row, logits [1, 2, 3, 4], positive in column 2, candidate ids [7, 5, 7, 8]:
    # column 0 is the same item (7) as the positive -> removed.
    logits = np.array([[1, 2, 3, 4]], "float32")
    labels = np.array([[0, 0, 1, 0]], "float32")
    masked = remove_accidental_hits(logits, labels, np.array([7, 5, 7, 8]))
    assert float(SoftmaxCrossEntropy()(labels, masked)) == pytest.approx(1.407606, abs=1e-6)
    assert float(SoftmaxCrossEntropy()(labels, logits)) == pytest.approx(1.440190, abs=1e-6)
    # removed, not merely lowered: the same as dropping the column
    assert float(SoftmaxCrossEntropy()(labels[:, 1:], logits[:, 1:])) == pytest.approx(1.407606, abs=1e-6)


def test_bpr_stability_case_from_bug_report():
    d = tf.Variable(np.array([1.0, 0.0, -200.0], "float32"))
    labels = np.tile(np.array([[1.0, 0.0]], "float32"), (3, 1))
    with tf.GradientTape() as tape:
        scores = tf.stack([d, tf.zeros(3)], axis=1)  # s+ = d, s- = 0
        loss = BPR()(labels, scores)
    grad = tape.gradient(loss, d).numpy()
    assert float(loss) == pytest.approx(67.002136, rel=1e-6)
    np.testing.assert_allclose(grad, [-0.0896471, -0.1666667, -0.3333333], atol=1e-6)
    with tf.GradientTape() as tape:  # the naive formula fails here
        naive = -tf.reduce_mean(tf.math.log(tf.sigmoid(d)))
    assert np.isinf(naive.numpy()) and np.isnan(tape.gradient(naive, d).numpy()).any()


def test_pairwise_losses_by_hand():
    # one row: s+ = 2.0, negatives 1.5 and -1.0, margin 1:
    # hinge = mean(max(0, 1 - 0.5), max(0, 1 - 3)) = 0.25
    # BPR = mean(softplus(-0.5), softplus(-3)) = (0.4740770 + 0.0485874) / 2 = 0.2613322
    labels = np.array([[0, 1, 0]], "float32")
    scores = np.array([[1.5, 2.0, -1.0]], "float32")
    assert float(PairwiseHinge(margin=1.0)(labels, scores)) == pytest.approx(0.25, abs=1e-6)
    assert float(PairwiseHinge(margin=0.25)(labels, scores)) == pytest.approx(0.0, abs=1e-7)
    assert float(BPR()(labels, scores)) == pytest.approx(0.2613322, abs=1e-6)
    # BCE per entry: softplus(z) - y z; row mean of [softplus(1.5), softplus(2) - 2, softplus(-1)]
    expected = (np.log1p(np.exp(1.5)) + np.log1p(np.exp(2.0)) - 2.0 + np.log1p(np.exp(-1.0))) / 3
    assert float(BinaryCrossEntropy()(labels, scores)) == pytest.approx(expected, abs=1e-6)


def pairwise_ref(labels, scores, fn):
    out = []
    for y, s in zip(labels.astype(bool), scores.astype(np.float64)):
        d = s[y][0] - s[~y]
        out.append(fn(d).mean())
    return np.mean(out)


@pytest.mark.parametrize("seed", range(4))
def test_losses_match_float64_numpy_references(seed):
    rng = np.random.default_rng(seed)
    b, n = 8, 6
    scores = (rng.normal(size=(b, n)) * 3).astype("float32")
    labels = np.eye(n, dtype="float32")[rng.integers(0, n, b)]
    softplus = lambda x: np.logaddexp(0.0, x)  # noqa: E731
    assert float(BPR()(labels, scores)) == pytest.approx(pairwise_ref(labels, scores, lambda d: softplus(-d)), rel=1e-5)
    assert float(PairwiseHinge(0.7)(labels, scores)) == pytest.approx(
        pairwise_ref(labels, scores, lambda d: np.maximum(0.0, 0.7 - d)), rel=1e-5, abs=1e-7
    )
    bce = (softplus(scores.astype(np.float64)) - labels * scores).mean()
    assert float(BinaryCrossEntropy()(labels, scores)) == pytest.approx(bce, rel=1e-5)
    assert float(SoftmaxCrossEntropy()(labels, scores)) == pytest.approx(softmax_ce_ref(scores, labels).mean(), rel=1e-5)


def keras_rs_loss(logits, labels, ids, prob):
    keras_rs = pytest.importorskip("keras_rs")
    corrected = keras_rs.layers.SamplingProbabilityCorrection()(logits, prob)
    corrected = keras_rs.layers.RemoveAccidentalHits()(corrected, labels, ids)
    return float(keras.losses.CategoricalCrossentropy(from_logits=True)(labels, corrected))


@pytest.mark.parametrize("seed", range(4))
def test_in_batch_softmax_with_corrections_equals_keras_rs(seed):
    rng = np.random.default_rng(seed)
    b, d = 12, 5
    q = rng.normal(size=(b, d)).astype("float32")
    c = rng.normal(size=(b, d)).astype("float32")
    prob = rng.uniform(0.01, 0.9, size=b).astype("float32")
    logits, labels = q @ c.T / 0.5, np.eye(b, dtype="float32")
    layer = InBatchSoftmax(temperature=0.5, remove_accidental_hits=True)
    # distinct ids: keras-rs' RemoveAccidentalHits has nothing to remove
    ids = rng.permutation(100)[:b]
    ours = layer(q, c, candidate_ids=ids, candidate_sampling_probability=prob)
    assert float(ours) == pytest.approx(keras_rs_loss(logits, labels, ids, prob), rel=1e-5)
    # repeated ids: ours equals the float64 reference with the duplicate columns removed
    ids = rng.integers(0, 4, size=b)
    ours = float(layer(q, c, candidate_ids=ids, candidate_sampling_probability=prob))
    corrected = logits.astype(np.float64) - np.log(prob.astype(np.float64))[None, :]
    expected = np.mean([
        np.log(np.exp(row[(ids != ids[i]) | (np.arange(b) == i)]).sum()) - row[i] for i, row in enumerate(corrected)
    ])
    assert ours == pytest.approx(expected, rel=1e-5)


def test_keras_rs_0_4_accidental_hit_mask_is_a_no_op():
    # keras-rs 0.4.0 adds finfo(float32).smallest_normal / 100 (about 1e-40) to the
    # duplicate logits instead of a large negative number, so nothing is removed:
    # its loss equals the unmasked one. This pins the upstream bug; if it starts
    # failing, keras-rs fixed it and the test above can compare repeated ids too.
    logits = np.array([[1, 2, 3, 4]], "float32")
    labels = np.array([[0, 0, 1, 0]], "float32")
    theirs = keras_rs_loss(logits, labels, np.array([7, 5, 7, 8]), np.ones(4, "float32"))
    assert theirs == pytest.approx(1.440190, abs=1e-6)  # the unmasked loss; ours is 1.407606


@pytest.mark.parametrize("loss", [BPR(), PairwiseHinge(), BinaryCrossEntropy(), SoftmaxCrossEntropy()], ids=lambda l: l.name)
def test_gradients_are_finite_for_huge_logits(loss):
    for value in (1e4, -1e4):
        scores = tf.Variable(np.array([[value, 0.0, -value], [0.0, value, 1.0]], "float32"))
        labels = np.array([[1, 0, 0], [0, 0, 1]], "float32")
        with tf.GradientTape() as tape:
            out = loss(labels, scores)
        grad = tape.gradient(out, scores).numpy()
        assert np.isfinite(float(out)) and np.isfinite(grad).all()


def test_bpr_for_huge_differences_is_exact():
    labels = np.array([[1, 0]], "float32")
    assert float(BPR()(labels, np.array([[-1e4, 0.0]], "float32"))) == pytest.approx(1e4, rel=1e-6)
    assert float(BPR()(labels, np.array([[1e4, 0.0]], "float32"))) == pytest.approx(0.0, abs=1e-30)


@pytest.mark.parametrize("loss", [BPR(), PairwiseHinge(margin=0.3), BinaryCrossEntropy(), SoftmaxCrossEntropy()], ids=lambda l: l.name)
def test_each_loss_saves_and_loads_in_a_keras_model(tmp_path, loss):
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile(optimizer="sgd", loss=loss)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    before = model.evaluate(x, y, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.loss) is type(loss)
    assert loaded.loss.get_config() == loss.get_config()
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(before, rel=1e-6)


def test_pairwise_hinge_refuses_negative_margin():
    with pytest.raises(ValueError, match="margin must be >= 0"):
        PairwiseHinge(margin=-1)


def test_margin_curves_by_formula():
    from recnotes.losses import margin_curve

    d = np.array([-3.0, -0.5, 0.0, 0.99, 1.5, 4.0])
    value, grad = margin_curve(BPR(), d)
    np.testing.assert_allclose(value, np.logaddexp(0, -d), rtol=1e-6)
    np.testing.assert_allclose(grad, -1 / (1 + np.exp(d)), rtol=1e-5)
    value, grad = margin_curve(PairwiseHinge(margin=1.0), d)
    np.testing.assert_allclose(value, np.maximum(0, 1 - d), atol=1e-6)
    np.testing.assert_array_equal(grad, np.where(d < 1, -1.0, 0.0))
    # softmax over one positive and 9 negatives at 0: log(1 + 9 e^-d)
    value, _ = margin_curve(SoftmaxCrossEntropy(), d, num_negatives=9)
    np.testing.assert_allclose(value, np.log1p(9 * np.exp(-d)), rtol=1e-5)


def test_masked_accidental_hits_are_not_negatives_of_pairwise_losses():
    # items [1, 1, 2], all scores 0: row 0's column 1 (and row 1's column 0) are the same item -> masked.
    # Each row keeps its real negatives only: hinge = 1 - 0 = 1, BPR = softplus(0) = ln 2.
    from recnotes.losses.retrieval import retrieval_logits

    z = np.zeros((3, 2), "float32")
    logits, labels = retrieval_logits(z, z, candidate_ids=np.array([1, 1, 2]), remove_hits=True)
    assert float(PairwiseHinge(margin=1.0)(labels, logits)) == pytest.approx(1.0, abs=1e-6)
    assert float(BPR()(labels, logits)) == pytest.approx(np.log(2), abs=1e-6)
    # BCE: row mean over unmasked entries of softplus(0) - y * 0 = ln 2
    assert float(BinaryCrossEntropy()(labels, logits)) == pytest.approx(np.log(2), abs=1e-6)


def test_softmax_cross_entropy_with_several_or_no_positives():
    # -sum_j y_j log softmax(z)_j with z = 0 over 4 columns: each positive costs ln 4
    assert float(SoftmaxCrossEntropy()(np.array([[1, 1, 0, 0]], "float32"), np.zeros((1, 4), "float32"))) == pytest.approx(2 * np.log(4), rel=1e-6)
    assert float(SoftmaxCrossEntropy()(np.zeros((1, 4), "float32"), np.zeros((1, 4), "float32"))) == 0.0


def test_in_batch_softmax_keeps_probabilities_in_float32_under_mixed_precision():
    rng = np.random.default_rng(0)
    q, c = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    p = np.array([1e-7, 2e-7, 5e-8, 3e-6, 1e-5])
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        loss = float(InBatchSoftmax()(q.astype("float16"), c.astype("float16"), candidate_sampling_probability=p.astype("float32")))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    expected = reference(q.astype("float16").astype("float64"), c.astype("float16").astype("float64"), prob=p)
    assert loss == pytest.approx(expected, rel=1e-5)


def test_resolve_retrieval_loss_defaults_deserializes_and_refuses():
    import keras

    from recnotes.losses import BPR, SoftmaxCrossEntropy
    from recnotes.losses.retrieval import resolve_retrieval_loss

    assert isinstance(resolve_retrieval_loss(None), SoftmaxCrossEntropy)
    restored = resolve_retrieval_loss(keras.saving.serialize_keras_object(BPR()))
    assert isinstance(restored, BPR)
    with pytest.raises(ValueError, match="retrieval_loss must be a keras.losses.Loss, got str"):
        resolve_retrieval_loss("bpr")
