"""The plots the notebooks show, one function each, drawn on a given or new axis."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

__all__ = [
    "plot_landscape",
    "plot_sweep_heatmap",
    "plot_lr_range_test",
    "plot_curves",
    "plot_rating_distribution",
    "plot_item_popularity",
    "plot_interactions_over_time",
    "plot_history",
    "plot_metric_comparison",
]


def _axis(ax):
    return ax if ax is not None else plt.subplots(figsize=(6, 3.5))[1]


def plot_rating_distribution(ratings: pd.DataFrame, ax=None):
    """Bar chart of how many rows have each rating value."""
    ax = _axis(ax)
    counts = ratings.rating.value_counts().sort_index()
    sns.barplot(x=counts.index.astype(str), y=counts.to_numpy(), ax=ax, color="tab:blue")
    ax.set(xlabel="rating", ylabel="rows", title="Rating distribution")
    return ax


def plot_item_popularity(ratings: pd.DataFrame, ax=None):
    """The long tail: items sorted by interaction count, log scale, with the head's share."""
    ax = _axis(ax)
    counts = np.sort(ratings.movieId.value_counts().to_numpy())[::-1]
    ax.plot(np.arange(1, len(counts) + 1), counts, color="tab:blue")
    ax.set(xscale="log", yscale="log", xlabel="item rank by popularity", ylabel="interactions",
           title="Long tail of item popularity")
    head = max(1, int(round(0.01 * len(counts))))
    share = counts[:head].sum() / counts.sum()
    ax.axvline(head, color="tab:red", ls="--", lw=1)
    ax.text(head * 1.1, counts[0] * 0.5, f"top 1% of items:\n{share:.0%} of interactions", color="tab:red")
    return ax


def plot_interactions_over_time(ratings: pd.DataFrame, ax=None, cutoffs=()):
    """Interactions per quarter; ``cutoffs`` = [(label, timestamp), ...] draws vertical lines."""
    ax = _axis(ax)
    when = pd.to_datetime(ratings.timestamp, unit="s")
    per = when.dt.to_period("Q").value_counts().sort_index()
    ax.bar(per.index.to_timestamp(), per.to_numpy(), width=80, color="tab:blue")
    for label, ts in cutoffs:
        ax.axvline(pd.to_datetime(ts, unit="s"), color="tab:red", ls="--", lw=1)
        ax.text(pd.to_datetime(ts, unit="s"), ax.get_ylim()[1] * 0.9, f" {label}", color="tab:red")
    ax.set(xlabel="time", ylabel="interactions per quarter", title="Interactions over time")
    return ax


def plot_history(history, metrics=("loss",), ax=None):
    """Training curves from a Keras ``History`` (or its ``.history`` dict)."""
    ax = _axis(ax)
    logs = getattr(history, "history", history)
    for name in metrics:
        for key in (name, f"val_{name}"):
            if key in logs:
                ax.plot(np.arange(1, len(logs[key]) + 1), logs[key], label=key)
    ax.set(xlabel="epoch", ylabel=", ".join(metrics), title="Training history")
    ax.legend()
    return ax


def plot_metric_comparison(tables: dict, metric: str = "Recall", ax=None):
    """Grouped bars of ``metric`` at each K for several models' metric tables."""
    ax = _axis(ax)
    frame = pd.DataFrame({name: t[metric] for name, t in tables.items()})
    frame.index = [f"{metric}@{k}" for k in frame.index]
    frame.plot.bar(ax=ax, rot=0)
    ax.set(ylabel=metric, title=f"{metric} by model")
    return ax


def plot_landscape(fn, trajectories=(), bounds=(-4.0, 4.0, -4.0, 4.0), ax=None, levels: int = 30, resolution: int = 200):
    """Contours of a 2-D function and the paths of optimizer runs over it.

    Args:
      fn: ``f([..., 2]) -> [...]`` (e.g. :func:`recnotes.optimization.three_wells`).
      trajectories: :class:`~recnotes.optimization.Trajectory` objects; each
        is drawn from its start (circle) to its end (cross).
      bounds: ``(xmin, xmax, ymin, ymax)``.
    """
    ax = _axis(ax)
    xmin, xmax, ymin, ymax = bounds
    x, y = np.meshgrid(np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution))
    z = np.asarray(fn(np.stack([x, y], axis=-1).astype(np.float32)))
    ax.contourf(x, y, z, levels=levels, cmap="viridis", alpha=0.85)
    ax.contour(x, y, z, levels=levels, colors="white", linewidths=0.3, alpha=0.6)
    for t in trajectories:
        line = ax.plot(t.points[:, 0], t.points[:, 1], lw=1.6, label=f"{t.optimizer} (lr {t.learning_rate:g})")[0]
        ax.plot(*t.points[0], "o", color=line.get_color(), ms=5)
        ax.plot(*t.points[-1], "x", color=line.get_color(), ms=8, mew=2)
    ax.set(xlim=(xmin, xmax), ylim=(ymin, ymax), xlabel="x", ylabel="y")
    ax.set_aspect("equal")
    return ax


def plot_sweep_heatmap(table: pd.DataFrame, index: str, columns: str, value: str, ax=None, fmt: str = ".3f", cmap: str = "viridis"):
    """A grid of ``value`` by ``index`` (rows) x ``columns`` from a sweep table (failed points blank)."""
    ax = _axis(ax)
    ok = table[table["status"] == "ok"] if "status" in table else table
    grid = ok.pivot_table(index=index, columns=columns, values=value, aggfunc="mean")
    grid = grid.reindex(index=sorted(table[index].unique()), columns=sorted(table[columns].unique()))
    sns.heatmap(grid, annot=True, fmt=fmt, cmap=cmap, ax=ax, cbar_kws={"label": value})
    ax.set_title(value)
    return ax


def plot_lr_range_test(test, ax=None):
    """Loss against learning rate (log scale) from a :class:`~recnotes.training.LearningRateRangeTest`."""
    ax = _axis(ax)
    n = len(test.losses)
    ax.plot(test.learning_rates[:n], test.losses, alpha=0.35, label="batch loss")
    ax.plot(test.learning_rates[:n], test.smoothed, lw=2, label="smoothed")
    if np.isfinite(test.suggestion):
        ax.axvline(test.suggestion, color="k", ls="--", lw=1, label=f"suggested {test.suggestion:.3g}")
    ax.set(xscale="log", xlabel="learning rate", ylabel="training loss", title="Learning-rate range test")
    ax.legend()
    return ax


def plot_curves(tables: dict, column: str, ax=None, xlabel: str = "epoch"):
    """One line per run: ``tables[name][column]`` against the table's index (e.g. epoch)."""
    ax = _axis(ax)
    for name, table in tables.items():
        ax.plot(table.index, table[column], marker="o", ms=3, label=name)
    ax.set(xlabel=xlabel, ylabel=column)
    ax.legend()
    return ax
