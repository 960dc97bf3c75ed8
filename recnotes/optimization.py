"""Optimization landscapes: toy surfaces, optimizer trajectories, curvature, L-BFGS.

The tools behind "convex vs non-convex" (notebook 01):

* :func:`convex_bowl` and :func:`three_wells` — 2-D surfaces, written with
  TensorFlow ops so their gradients come from autodiff.
* :func:`optimizer_trajectory` — the points a Keras optimizer visits on a
  surface from a start point.
* :func:`hessian_vector_product` and :func:`smallest_curvature` — ``H v``
  by double differentiation, and the smallest eigenvalue of ``H`` (Lanczos
  over Hessian-vector products, never forming ``H``).  A convex function has
  ``lambda_min(H) >= 0`` everywhere; one negative value proves that a
  function is not convex.
* :func:`minimize_lbfgs` — full-batch L-BFGS in float64 (scipy) with
  TensorFlow gradients, to reach a minimum precisely.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "convex_bowl",
    "three_wells",
    "optimizer_trajectory",
    "Trajectory",
    "hessian_vector_product",
    "smallest_curvature",
    "minimize_lbfgs",
    "LbfgsResult",
]


def convex_bowl(xy):
    """An elongated quadratic bowl, ``f(x, y) = 0.5 x^2 + 2.5 y^2`` (convex; one minimum at 0).

    ``xy`` is ``[..., 2]``; works on numpy arrays and tensors.
    """
    xy = tf.convert_to_tensor(xy)
    return 0.5 * xy[..., 0] ** 2 + 2.5 * xy[..., 1] ** 2


# (centre x, centre y, depth, width) of each well of three_wells.
_WELLS = ((2.0, 1.0, 3.0, 1.0), (-2.0, -1.0, 2.0, 1.5), (0.5, -2.5, 1.5, 0.8))


def three_wells(xy):
    """A non-convex surface with three local minima of different depth.

    ``f(x, y) = 0.05 (x^2 + y^2) - sum_j d_j exp(-((x - a_j)^2 + (y - b_j)^2) / w_j)``

    with wells at ``(2, 1)`` (deepest, the global minimum), ``(-2, -1)`` and
    ``(0.5, -2.5)``.  Gradient descent ends in whichever well's basin it
    starts in.
    """
    xy = tf.convert_to_tensor(xy)
    x, y = xy[..., 0], xy[..., 1]
    value = 0.05 * (x**2 + y**2)
    for a, b, depth, width in _WELLS:
        value -= depth * tf.exp(-((x - a) ** 2 + (y - b) ** 2) / width)
    return value


@dataclasses.dataclass
class Trajectory:
    """Points ``[steps + 1, 2]`` and values ``[steps + 1]`` of one optimizer run."""

    optimizer: str
    learning_rate: float
    points: np.ndarray
    values: np.ndarray

    @property
    def end(self) -> np.ndarray:
        return self.points[-1]

    @property
    def diverged(self) -> bool:
        """True if the run left the finite numbers (learning rate too large)."""
        return not (np.isfinite(self.points).all() and np.isfinite(self.values).all())

    def __repr__(self) -> str:
        x, y = self.points[-1]
        return (
            f"Trajectory({self.optimizer}, lr={self.learning_rate:g}, steps={len(self.points) - 1}, "
            f"start=({self.points[0][0]:.2f}, {self.points[0][1]:.2f}), end=({x:.3f}, {y:.3f}), "
            f"f(end)={self.values[-1]:.4f}{', DIVERGED' if self.diverged else ''})"
        )


_OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(lr),
    "momentum": lambda lr: keras.optimizers.SGD(lr, momentum=0.9),
    "adam": lambda lr: keras.optimizers.Adam(lr),
    "adagrad": lambda lr: keras.optimizers.Adagrad(lr, initial_accumulator_value=1e-7),
}


def optimizer_trajectory(
    fn: Callable, start, optimizer: str = "sgd", learning_rate: float = 0.1, steps: int = 100
) -> Trajectory:
    """Run a Keras optimizer on ``fn`` from ``start`` and record every point.

    ``optimizer`` is ``"sgd"``, ``"momentum"`` (SGD with momentum 0.9),
    ``"adam"`` or ``"adagrad"``; the update of each is Keras' own, applied to
    one float32 variable ``[2]`` with the gradient from ``tf.GradientTape``.
    """
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
    start = np.asarray(start, dtype=np.float32)
    if start.shape != (2,):
        raise ValueError(f"start must be a point [x, y], got shape {list(start.shape)}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not np.isfinite(start).all():
        raise ValueError(f"start must be finite, got {start.tolist()}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")
    opt = _OPTIMIZERS[optimizer](learning_rate)
    point = keras.Variable(start, dtype="float32")
    opt.build([point])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = fn(point.value)
        opt.apply_gradients([(tape.gradient(value, point.value, unconnected_gradients="zero"), point)])
        return value

    points, values = [start.copy()], []
    for _ in range(int(steps)):
        values.append(float(step()))
        points.append(np.asarray(point.numpy()))
    values.append(float(fn(point.value)))
    return Trajectory(optimizer, float(learning_rate), np.stack(points), np.asarray(values))


def hessian_vector_product(fn: Callable, theta, vector) -> np.ndarray:
    """``H(theta) @ vector`` for a scalar function of a flat float64 vector.

    Computed as the gradient of ``grad f(theta) . vector`` (two reverse
    passes), so ``H`` is never formed: cost about twice a gradient.
    """
    theta = tf.convert_to_tensor(theta, dtype=tf.float64)
    vector = tf.convert_to_tensor(vector, dtype=tf.float64)
    if theta.shape != vector.shape or theta.shape.rank != 1:
        raise ValueError(f"theta and vector must be 1-D of equal length, got {theta.shape} and {vector.shape}")
    return _hvp_tensor(fn, theta, vector).numpy()


def smallest_curvature(fn: Callable, theta, tol: float = 1e-6, seed: int = 0) -> tuple[float, np.ndarray]:
    """The smallest eigenvalue of the Hessian of ``fn`` at ``theta`` and its eigenvector.

    ``lambda_min = min over unit v of v^T H v``: the most negative curvature
    of any direction.  Found by Lanczos (``scipy.sparse.linalg.eigsh``,
    ``which="SA"``) on Hessian-vector products.  ``lambda_min < 0`` means
    ``fn`` curves downward along the eigenvector: ``theta`` is a saddle or a
    maximum along it, and ``fn`` is not convex.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1 or theta.size == 0:
        raise ValueError(f"theta must be a non-empty 1-D vector (flatten your parameters), got shape {list(theta.shape)}")
    if not np.isfinite(theta).all():
        raise ValueError("theta contains NaN or infinite values")
    n = theta.size
    hvp = tf.function(lambda v: _hvp_tensor(fn, tf.constant(theta), v), reduce_retracing=True)
    operator = LinearOperator((n, n), matvec=lambda v: hvp(tf.constant(np.ravel(v), tf.float64)).numpy(), dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    if n <= 64:  # small: form H from n products and solve exactly
        hessian = np.stack([operator.matvec(e) for e in np.eye(n)])
        values, vectors = np.linalg.eigh(0.5 * (hessian + hessian.T))
        return float(values[0]), vectors[:, 0]
    from scipy.sparse.linalg import ArpackError

    try:
        values, vectors = eigsh(operator, k=1, which="SA", tol=tol, v0=v0, ncv=min(n, 40), maxiter=20 * n)
    except ArpackError as exc:  # e.g. H = 0, or no convergence
        raise RuntimeError(f"Lanczos (ARPACK) failed on this Hessian: {exc}; try a looser tol") from None
    return float(values[0]), vectors[:, 0]


def _hvp_tensor(fn, theta, vector):
    with tf.GradientTape() as outer:
        outer.watch(theta)
        with tf.GradientTape() as inner:
            inner.watch(theta)
            value = fn(theta)
        directional = tf.reduce_sum(inner.gradient(value, theta, unconnected_gradients="zero") * vector)
    return outer.gradient(directional, theta, unconnected_gradients="zero")


@dataclasses.dataclass
class LbfgsResult:
    """Where L-BFGS stopped: parameters, loss, gradient norm, iterations."""

    theta: np.ndarray
    loss: float
    gradient_norm: float
    iterations: int
    converged: bool
    message: str

    def __repr__(self) -> str:
        return (
            f"LbfgsResult(loss={self.loss:.6f}, |grad|={self.gradient_norm:.2e}, "
            f"iterations={self.iterations}, converged={self.converged})"
        )


def minimize_lbfgs(fn: Callable, theta0, max_iterations: int = 1000, gtol: float = 1e-8) -> LbfgsResult:
    """Minimize a scalar TensorFlow function of a flat vector with L-BFGS, in float64.

    Full batch: each iteration sees all the data, so the result is a precise
    stationary point (no minibatch noise), and two starts that reach the
    same minimum agree to many decimals.  ``scipy.optimize.minimize`` does
    the L-BFGS steps; TensorFlow (``tf.function``) gives value and gradient.
    """
    from scipy.optimize import minimize

    @tf.function(reduce_retracing=True)
    def value_and_grad(theta):
        with tf.GradientTape() as tape:
            tape.watch(theta)
            value = fn(theta)
        return value, tape.gradient(value, theta, unconnected_gradients="zero")

    def scipy_fn(theta):
        value, grad = value_and_grad(tf.constant(theta, tf.float64))
        return float(value), grad.numpy().astype(np.float64)

    result = minimize(
        scipy_fn,
        np.asarray(theta0, dtype=np.float64),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": int(max_iterations), "gtol": gtol, "ftol": 0.0, "maxcor": 20},
    )
    _, grad = scipy_fn(result.x)
    return LbfgsResult(
        result.x, float(result.fun), float(np.linalg.norm(grad)), int(result.nit), bool(result.success), str(result.message)
    )
