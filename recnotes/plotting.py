"""The plots the notebooks show, one function each, drawn on a given or new axis."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

__all__ = [
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
