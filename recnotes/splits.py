"""Train / validation / test splits of an interaction log, and a leakage check.

Three ways to hold data out, each returning a :class:`Split`:

* :func:`chrono_split` — per user, by time: each user's first 80 % of rows
  train, next 10 % validation, last 10 % test (the benchmark protocol,
  "chrono-80/10/10").  :func:`leave_last_out_split` is its cousin that holds
  out a fixed number of rows per user.
* :func:`global_temporal_split` — one cut-off time for everybody: nothing in
  validation or test happened before anything in train, so no leakage
  through time.
* :func:`random_split` — a seeded shuffle of rows (the leaky baseline).

:func:`leakage_report` tells, for two splits, which rows occur in both and
which rows of the later split are older than the newest training row.

All splits depend only on the rows, never on their order in the input.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

__all__ = [
    "Split",
    "LeakageReport",
    "chrono_split",
    "leave_last_out_split",
    "global_temporal_split",
    "random_split",
    "leakage_report",
]

_KEY = ["userId", "movieId"]


@dataclasses.dataclass
class Split:
    """Three disjoint frames of the same columns."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    name: str = "split"

    def __iter__(self):
        return iter((self.train, self.validation, self.test))

    def sizes(self) -> dict:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    def __repr__(self) -> str:
        s = self.sizes()
        return (
            f"Split({self.name!r}, train={s['train']:,}, validation={s['validation']:,}, "
            f"test={s['test']:,})"
        )


def _check_frame(ratings: pd.DataFrame, where: str):
    """The columns a split needs, without missing values."""
    missing = [c for c in ("userId", "movieId", "timestamp") if c not in ratings.columns]
    if missing:
        raise ValueError(f"{where}: ratings lack column(s) {', '.join(missing)}; found {', '.join(map(str, ratings.columns))}")
    for column in ("userId", "movieId", "timestamp"):
        bad = ratings[column].isna().to_numpy()
        if bad.any():
            raise ValueError(
                f"{where}: column {column!r} has {int(bad.sum())} missing value(s), first at row "
                f"{int(np.flatnonzero(bad)[0])} of the frame; load data with recnotes.data.load_movielens"
            )


def _check_fractions(train: float, validation: float):
    if not all(isinstance(f, (int, float, np.integer, np.floating)) for f in (train, validation)):
        raise ValueError(f"fractions must be numbers, got train={train!r}, validation={validation!r}")
    if not (0 < train <= 1 and 0 <= validation <= 1 and train + validation <= 1 + 1e-12):
        raise ValueError(
            f"fractions must satisfy 0 < train <= 1, 0 <= validation and train + validation <= 1; "
            f"got train={train}, validation={validation}"
        )


def _floor(x) -> np.ndarray:
    # floor with a tolerance, so that 0.8 * 10 is 8 and (4/6) * 6 is 4.
    return np.floor(np.asarray(x, dtype=np.float64) + 1e-9).astype(np.int64)


def _canonical_order(ratings: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by (userId, timestamp, movieId, rating): independent of input order."""
    cols = [c for c in ["userId", "timestamp", "movieId", "rating"] if c in ratings.columns]
    return ratings.sort_values(cols, kind="mergesort").reset_index(drop=True)


def _per_user_positions(ratings: pd.DataFrame):
    """Sorted rows, each row's 0-based position within its user, and the user's row count."""
    rows = _canonical_order(ratings)
    position = rows.groupby("userId", sort=False).cumcount().to_numpy()
    count = rows.groupby("userId", sort=False)["userId"].transform("size").to_numpy()
    return rows, position, count


def _drop_unseen_items(frame: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.movieId.isin(train.movieId.unique())].reset_index(drop=True)


def chrono_split(
    ratings: pd.DataFrame,
    train: float = 0.8,
    validation: float = 0.1,
    drop_unseen_test_items: bool = True,
) -> Split:
    """Per-user chronological split (the benchmark protocol's "chrono-80/10/10").

    For each user, rows are sorted by (timestamp, movieId); with ``n`` rows,
    positions ``[0, floor(train*n))`` are train, ``[floor(train*n),
    floor((train+validation)*n))`` validation and the rest test.  Test rows
    whose movie does not occur in train are dropped (nothing can score them).

    Note that users' time lines overlap: one user's test rows can be older
    than another user's train rows.  :func:`leakage_report` shows it.
    """
    _check_fractions(train, validation)
    _check_frame(ratings, "chrono_split")
    rows, position, count = _per_user_positions(ratings)
    n_train = _floor(train * count)
    n_seen = _floor((train + validation) * count)
    out_train = rows[position < n_train].reset_index(drop=True)
    out_val = rows[(position >= n_train) & (position < n_seen)].reset_index(drop=True)
    out_test = rows[position >= n_seen].reset_index(drop=True)
    if drop_unseen_test_items:
        out_test = _drop_unseen_items(out_test, out_train)
    return Split(out_train, out_val, out_test, name=f"chrono-{train:g}/{validation:g}")


def leave_last_out_split(ratings: pd.DataFrame, n_test: int = 1, n_validation: int = 1) -> Split:
    """Per user: the last ``n_test`` rows are test, the ``n_validation`` before them validation.

    Users with too few rows keep at least one train row.  Rows are ordered by
    (timestamp, movieId) within each user.
    """
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in (n_test, n_validation)):
        raise ValueError(f"n_test and n_validation must be integers >= 0, got {n_test!r}, {n_validation!r}")
    _check_frame(ratings, "leave_last_out_split")
    rows, position, count = _per_user_positions(ratings)
    from_end = count - position  # 1 for the user's last row
    held = np.minimum(n_test + n_validation, count - 1)
    is_test = from_end <= np.minimum(n_test, held)
    is_val = ~is_test & (from_end <= held)
    return Split(
        rows[~is_test & ~is_val].reset_index(drop=True),
        rows[is_val].reset_index(drop=True),
        rows[is_test].reset_index(drop=True),
        name=f"leave-{n_test}-out",
    )


def global_temporal_split(
    ratings: pd.DataFrame, train: float = 0.8, validation: float = 0.1
) -> Split:
    """One cut-off time for everybody: train strictly before validation before test.

    The cut-off is the timestamp of the row at position ``floor(train * n)``
    of all rows sorted by time; every row at or after it leaves train, so
    rows that share the cut-off timestamp all land on the later side and no
    timestamp is on both sides.  The validation/test cut works the same way
    at ``floor((train + validation) * n)``.
    """
    _check_fractions(train, validation)
    _check_frame(ratings, "global_temporal_split")
    n = len(ratings)
    if n == 0:
        raise ValueError("global_temporal_split: ratings is empty")
    ts = np.sort(ratings.timestamp.to_numpy(), kind="mergesort")
    rows = _canonical_order(ratings)
    t = rows.timestamp.to_numpy()

    def cut(fraction: float) -> float:
        i = int(_floor(fraction * n))
        return np.inf if i >= n else ts[i]

    t1, t2 = cut(train), cut(train + validation)
    return Split(
        rows[t < t1].reset_index(drop=True),
        rows[(t >= t1) & (t < t2)].reset_index(drop=True),
        rows[t >= t2].reset_index(drop=True),
        name=f"global-temporal-{train:g}/{validation:g}",
    )


def random_split(
    ratings: pd.DataFrame, train: float = 0.8, validation: float = 0.1, seed: int = 0
) -> Split:
    """Seeded uniform shuffle of rows: ``floor(train*n)`` train, then validation, then test.

    The same seed gives the same split for any order of the input rows.
    """
    _check_fractions(train, validation)
    _check_frame(ratings, "random_split")
    rows = _canonical_order(ratings)
    n = len(rows)
    perm = np.random.default_rng(seed).permutation(n)
    n_train, n_seen = int(_floor(train * n)), int(_floor((train + validation) * n))
    pick = lambda idx: _canonical_order(rows.iloc[np.sort(idx)])  # noqa: E731
    return Split(
        pick(perm[:n_train]),
        pick(perm[n_train:n_seen]),
        pick(perm[n_seen:]),
        name=f"random-{train:g}/{validation:g}-seed{seed}",
    )


@dataclasses.dataclass
class LeakageReport:
    """What a later split shares with, or predates in, an earlier one.

    Attributes:
      overlap: rows of ``later`` whose (userId, movieId) pair also occurs in
        ``earlier``.
      older: rows of ``later`` older than the newest row of ``earlier``
        (information from their future was available at training time).
      earlier_max_timestamp: the newest timestamp in ``earlier``.
    """

    overlap: pd.DataFrame
    older: pd.DataFrame
    earlier_max_timestamp: int
    earlier_name: str = "train"
    later_name: str = "test"

    @property
    def ok(self) -> bool:
        return self.overlap.empty and self.older.empty

    def __repr__(self) -> str:
        return (
            f"LeakageReport({self.earlier_name} -> {self.later_name}: "
            f"{len(self.overlap)} shared (user, movie) row(s), "
            f"{len(self.older)} row(s) older than {self.earlier_name}'s newest "
            f"timestamp {self.earlier_max_timestamp}; ok={self.ok})"
        )


def leakage_report(
    earlier: pd.DataFrame,
    later: pd.DataFrame,
    earlier_name: str = "train",
    later_name: str = "test",
) -> LeakageReport:
    """Rows of ``later`` that also occur in ``earlier``, or predate its newest row."""
    _check_frame(earlier, f"leakage_report ({earlier_name})")
    _check_frame(later, f"leakage_report ({later_name})")
    if earlier.empty:
        raise ValueError(f"leakage_report: {earlier_name} is empty; nothing to compare {later_name} with")
    shared = later.merge(earlier[_KEY].drop_duplicates(), on=_KEY, how="inner")
    newest = int(earlier.timestamp.max())
    older = later[later.timestamp < newest].reset_index(drop=True)
    return LeakageReport(shared, older, newest, earlier_name, later_name)
