"""Optimizer trajectories, Hessian-vector products, curvature and L-BFGS, against numpy float64."""

import numpy as np
import pytest

from recnotes.optimization import (
    convex_bowl,
    hessian_vector_product,
    minimize_lbfgs,
    optimizer_trajectory,
    smallest_curvature,
    three_wells,
)

A = np.diag([1.0, 5.0])  # convex_bowl = 0.5 x^T A x


def test_convex_bowl_and_three_wells_values_by_hand():
    assert float(convex_bowl(np.array([2.0, 1.0]))) == pytest.approx(0.5 * 4 + 2.5 * 1)
    x, y = 2.0, 1.0  # at the deepest well's centre
    expected = 0.05 * 5 - 3.0 - 2.0 * np.exp(-(16 + 4) / 1.5) - 1.5 * np.exp(-(2.25 + 12.25) / 0.8)
    assert float(three_wells(np.array([x, y], dtype=np.float64))) == pytest.approx(expected, rel=1e-12)


def test_sgd_trajectory_equals_numpy_recursion():
    lr, start = 0.1, np.array([2.0, 1.5])
    traj = optimizer_trajectory(convex_bowl, start, "sgd", lr, steps=20)
    x, expected = start.copy(), [start.copy()]
    for _ in range(20):
        x = x - lr * A @ x
        expected.append(x.copy())
    np.testing.assert_allclose(traj.points, np.stack(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(traj.values, [0.5 * p @ A @ p for p in expected], rtol=1e-5, atol=1e-7)


def test_momentum_trajectory_equals_numpy_recursion():
    # Keras SGD(momentum=m): v <- m v - lr g; x <- x + v
    lr, m, start = 0.05, 0.9, np.array([-2.0, 1.0])
    traj = optimizer_trajectory(convex_bowl, start, "momentum", lr, steps=30)
    x, v = start.copy(), np.zeros(2)
    for _ in range(30):
        v = m * v - lr * A @ x
        x = x + v
    np.testing.assert_allclose(traj.end, x, rtol=1e-4, atol=1e-5)


def test_adam_trajectory_equals_numpy_adam():
    lr, b1, b2, eps, start = 0.1, 0.9, 0.999, 1e-7, np.array([1.0, -1.0])
    traj = optimizer_trajectory(convex_bowl, start, "adam", lr, steps=25)
    x, m, v = start.copy(), np.zeros(2), np.zeros(2)
    for t in range(1, 26):
        g = A @ x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)  # Keras' form of the bias correction
        x = x - alpha * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(traj.end, x, rtol=1e-4, atol=1e-5)


def test_gradient_descent_ends_in_the_well_of_its_basin():
    ends = {tuple(np.round(optimizer_trajectory(three_wells, s, "sgd", 0.2, 400).end, 1)) for s in ([1.5, 1.5], [-1.5, -0.5], [0.5, -2.0])}
    assert len(ends) == 3  # three different local minima


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optimizer_trajectory(convex_bowl, [0, 0], "rmsprop")
    with pytest.raises(ValueError, match=r"start must be a point \[x, y\], got shape \[3\]"):
        optimizer_trajectory(convex_bowl, [0, 0, 0])


def _quartic(theta):
    # f = sum(x^4)/4 - x0 x1 + 0.5 * x2^2 ; Hessian = diag(3 x^2) + [[0,-1,0],[-1,0,0],[0,0,1]]
    return 0.25 * np.sum(theta**4) - theta[0] * theta[1] + 0.5 * theta[2] ** 2 if isinstance(theta, np.ndarray) else (
        0.25 * __import__("tensorflow").reduce_sum(theta**4) - theta[0] * theta[1] + 0.5 * theta[2] ** 2
    )


def _quartic_hessian(x):
    h = np.diag(3 * x**2)
    h[0, 1] = h[1, 0] = -1.0
    h[2, 2] += 1.0
    return h


def test_hessian_vector_product_equals_explicit_hessian():
    x = np.array([0.3, -0.7, 1.1, 0.4])
    v = np.array([1.0, 2.0, -1.0, 0.5])
    np.testing.assert_allclose(hessian_vector_product(_quartic, x, v), _quartic_hessian(x) @ v, rtol=1e-12)


def test_smallest_curvature_equals_numpy_eigenvalue():
    x = np.array([0.1, 0.2, 0.0, 0.5])  # near the saddle at 0: x0 x1 coupling gives a negative eigenvalue
    value, vector = smallest_curvature(_quartic, x, tol=1e-10)
    expected = np.linalg.eigvalsh(_quartic_hessian(x))[0]
    assert expected < 0
    assert value == pytest.approx(expected, abs=1e-8)
    h = _quartic_hessian(x)
    assert vector @ h @ vector == pytest.approx(expected, abs=1e-8)


def test_lbfgs_reaches_the_closed_form_minimum():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((6, 6))
    q = m @ m.T + np.eye(6)
    c = rng.standard_normal(6)
    import tensorflow as tf

    result = minimize_lbfgs(lambda t: 0.5 * tf.tensordot(t, tf.linalg.matvec(tf.constant(q), t), 1) - tf.tensordot(tf.constant(c), t, 1), np.zeros(6))
    np.testing.assert_allclose(result.theta, np.linalg.solve(q, c), atol=1e-7)
    assert result.gradient_norm < 1e-6


def test_curvature_helpers_refuse_non_vectors_and_handle_linear_functions():
    import tensorflow as tf

    with pytest.raises(ValueError, match=r"theta must be a non-empty 1-D vector .* got shape \[3, 1\]"):
        smallest_curvature(lambda t: tf.reduce_sum(t**2), np.ones((3, 1)))
    c = tf.constant([1.0, 2.0, 3.0], tf.float64)
    np.testing.assert_array_equal(hessian_vector_product(lambda t: tf.reduce_sum(t * c), [1.0, 2.0, 3.0], [1.0, 0.0, 0.0]), [0, 0, 0])
    value, _ = smallest_curvature(lambda t: tf.reduce_sum(t * c), np.ones(3))
    assert value == pytest.approx(0.0, abs=1e-12)  # a linear function has zero curvature
    with pytest.raises(ValueError, match="learning_rate must be a positive finite number"):
        optimizer_trajectory(convex_bowl, [1, 1], "sgd", -0.1)
    assert optimizer_trajectory(convex_bowl, [1, 1], "sgd", 1e6, steps=20).diverged
