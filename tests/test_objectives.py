"""Convex and non-convex MovieLens objectives against scikit-learn and hand-derived curvature."""

import numpy as np
import pytest
import tensorflow as tf

from recnotes.objectives import IdLogisticRegression, LogisticMatrixFactorization, procrustes_distance, rating_labels
from recnotes.optimization import hessian_vector_product, minimize_lbfgs, smallest_curvature


def _toy(seed=0, n=400, users=12, items=15):
    rng = np.random.default_rng(seed)
    u, i = rng.integers(0, users, n), rng.integers(0, items, n)
    logits = rng.normal(0, 1, users)[u] + rng.normal(0, 1, items)[i]
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(float)
    return u, i, y, users, items


def test_rating_labels_threshold():
    import pandas as pd

    np.testing.assert_array_equal(rating_labels(pd.DataFrame({"rating": [3.5, 4.0, 5.0, 0.5]})), [0, 1, 1, 0])


def test_logistic_regression_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    u, i, y, nu, ni = _toy()
    l2 = 0.01
    objective = IdLogisticRegression(u, i, y, nu, ni, l2=l2)
    ours = minimize_lbfgs(objective, objective.initial(0), gtol=1e-10)
    x = np.zeros((len(u), nu + ni))
    x[np.arange(len(u)), u] = 1
    x[np.arange(len(u)), nu + i] = 1
    # sklearn: C * sum(loss) + 0.5 ||w||^2  <=>  mean(loss) + ||w||^2 / (2 C N)
    ref = LogisticRegression(C=1 / (l2 * len(u)), tol=1e-12, max_iter=10_000).fit(x, y)
    parts = objective.unpack(ours.theta)
    np.testing.assert_allclose(parts["bias"], ref.intercept_[0], atol=1e-5)
    np.testing.assert_allclose(np.concatenate([parts["user_bias"], parts["item_bias"]]), ref.coef_[0], atol=1e-5)
    np.testing.assert_allclose(objective.predict_proba(ours.theta, u, i), ref.predict_proba(x)[:, 1], atol=1e-6)


def test_loss_value_by_hand():
    u, i, y = np.array([0, 1]), np.array([1, 0]), np.array([1.0, 0.0])
    objective = LogisticMatrixFactorization(u, i, y, 2, 2, rank=1, l2=0.5)
    theta = np.array([0.1, 0.2, -0.3, 0.4, 0.5, 1.0, 2.0, -1.0, 0.5])  # b, wu(2), wi(2), P(2x1), Q(2x1)
    s = np.array([0.1 + 0.2 + 0.5 + 1.0 * 0.5, 0.1 - 0.3 + 0.4 + 2.0 * -1.0])
    data = np.mean(np.log1p(np.exp(s)) - y * s)
    expected = data + 0.25 * np.sum(theta[1:] ** 2)
    assert float(objective.loss(theta)) == pytest.approx(expected, rel=1e-12)


def test_logistic_regression_has_no_negative_curvature():
    """H = X^T diag(p(1 - p)) X / N + lambda * diag(0, 1, ..., 1) (bias unpenalized), formed in numpy."""
    u, i, y, nu, ni = _toy(1)
    l2 = 0.01
    objective = IdLogisticRegression(u, i, y, nu, ni, l2=l2)
    x = np.zeros((len(u), 1 + nu + ni))
    x[:, 0] = 1
    x[np.arange(len(u)), 1 + u] = 1
    x[np.arange(len(u)), 1 + nu + i] = 1
    for seed in range(3):
        theta = objective.initial(seed, scale=2.0)
        p = objective.predict_proba(theta, u, i)
        hessian = x.T @ (x * (p * (1 - p))[:, None]) / len(u) + l2 * np.diag([0.0] + [1.0] * (nu + ni))
        expected = np.linalg.eigvalsh(hessian)[0]
        value, _ = smallest_curvature(objective, theta, tol=1e-10)
        assert value == pytest.approx(expected, abs=1e-8)
        assert value > 0  # positive definite: strictly convex


def test_matrix_factorization_origin_is_a_saddle_with_the_predicted_curvature():
    """At P = Q = 0 the Hessian's P-Q block is G/N (G_ui = sum of residuals sigma(s) - y on (u, i)),
    so lambda_min = lambda - sigma_max(G) / N when the biases are at the logistic optimum."""
    u, i, y, nu, ni = _toy(2)
    l2 = 1e-3
    convex = IdLogisticRegression(u, i, y, nu, ni, l2=l2)
    fit = minimize_lbfgs(convex, np.zeros(convex.size), gtol=1e-12)
    mf = LogisticMatrixFactorization(u, i, y, nu, ni, rank=2, l2=l2)
    theta = np.concatenate([fit.theta, np.zeros(mf.rank * (nu + ni))])
    with tf.GradientTape() as tape:
        t = tf.constant(theta)
        tape.watch(t)
        value = mf(t)
    assert np.linalg.norm(tape.gradient(value, t).numpy()) < 1e-6  # a stationary point
    residual = convex.predict_proba(fit.theta, u, i) - y
    g = np.zeros((nu, ni))
    np.add.at(g, (u, i), residual)
    expected = l2 - np.linalg.svd(g / len(u), compute_uv=False)[0]
    value, _ = smallest_curvature(mf, theta, tol=1e-10)
    assert value == pytest.approx(expected, abs=1e-7)
    assert value < 0


def test_hvp_of_objective_matches_finite_differences():
    u, i, y, nu, ni = _toy(3)
    mf = LogisticMatrixFactorization(u, i, y, nu, ni, rank=2, l2=1e-3)
    theta = mf.initial(0, scale=0.5)
    v = np.random.default_rng(1).standard_normal(mf.size)

    def grad(t):
        with tf.GradientTape() as tape:
            t = tf.constant(t)
            tape.watch(t)
            value = mf(t)
        return tape.gradient(value, t).numpy()

    h = 1e-5
    fd = (grad(theta + h * v) - grad(theta - h * v)) / (2 * h)
    np.testing.assert_allclose(hessian_vector_product(mf, theta, v), fd, rtol=1e-5, atol=1e-8)


def test_procrustes_distance_is_zero_for_a_rotation():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 4))
    rotation, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    raw, aligned = procrustes_distance(a, a @ rotation)
    assert raw > 0.5
    assert aligned == pytest.approx(0.0, abs=1e-12)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"items must be indices in \[0, 3\), got range \[0, 5\]"):
        IdLogisticRegression([0, 1], [0, 5], [1, 0], 2, 3)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        IdLogisticRegression([0, 1], [0, 1], [1, 2], 2, 3)
    with pytest.raises(ValueError, match=r"theta must have shape \[6\]"):
        IdLogisticRegression([0, 1], [0, 1], [1, 0], 2, 3).unpack(np.zeros(4))
    with pytest.raises(ValueError, match="rating"):
        import pandas as pd

        rating_labels(pd.DataFrame({"score": [1]}))
