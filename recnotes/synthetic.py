"""Synthetic MovieLens-format folders of any size, for scale tests and benchmarks.

:func:`write_synthetic_movielens` writes ``ratings.csv`` and ``movies.csv``
with exactly the schema of MovieLens *ml-latest-small* (so
:func:`recnotes.data.load_movielens` reads them like the real thing), with
the requested number of rating rows, from a few dozen to tens of millions.
The files are a pure function of the arguments: the same seed gives
byte-identical files.

The model, per part:

* **Items.** ``n_items`` movies; the item of popularity rank ``r`` (1 = most
  popular) has weight ``(r + q) ** -s`` with ``s = popularity_exponent`` and
  ``q = popularity_offset`` (Zipf-Mandelbrot: a power law whose head is
  flattened by ``q``; ``q = 0`` is Zipf).  Ranks are assigned to movie ids
  at random.
* **Users.** ``n_users`` users; user ``u`` has
  ``n_u = min_per_user + extra_u`` rows, with ``extra_u`` proportional to a
  log-normal draw ``exp(activity_sigma * z_u)`` (``z_u`` standard normal),
  capped at ``max_per_user`` and rounded so that the counts add up to
  exactly ``n_interactions`` (largest-remainder rounding).
* **Which items.** User ``u``'s items are the first ``n_u`` *distinct*
  items of an i.i.d. sequence of draws from the Zipf weights (successive
  sampling without replacement, as ``numpy``'s ``choice(replace=False,
  p=...)``), so no (user, movie) pair repeats.  As an item counts at most
  once per user, the head saturates: with the defaults the top movie is
  rated by about half of the users (54 % in ml-latest-small).  Where users
  are far from having rated an item anyway, the number of ratings of rank
  ``r`` follows ``(r + q) ** -s`` (a log-log slope of ``-s``); heavy users
  saturate deeper into the catalogue, so with the default spread of
  activity the curve is flatter over the first few hundred ranks (for
  ``s = 1``: slope about -0.85 over ranks 200-650 at 100k rows, -0.95 over
  ranks 1,000-10,000 at 1M).
* **When.** A user's rows come in a uniformly random order (not by
  popularity).  Gaps between a user's consecutive rows are ``1 +
  floor(Exponential)`` seconds with a mean of ``span / n_u``, the span
  log-uniform between 10 minutes and 8 years, so timestamps are strictly
  increasing per user (no ties for the chronological split); the activity
  starts at a uniform time such that it lies between 1996-01-01 and
  2018-10-01.
* **Ratings.** ``3.5 + b_u + b_i + noise`` (user and item biases, popular
  items a little better), rounded to half stars, or to whole stars for half
  of the users (MovieLens allowed only whole stars before 2003), clipped to
  0.5-5.0.
* **Ids.** User ids are a random sorted subset of ``1 .. 2 * n_users`` and
  movie ids of ``1 .. 3 * n_items``: not contiguous, as in MovieLens.
* **movies.csv.** Every movie (also those nobody rated) with a title
  ``"Movie <id> (<year>)"`` (about 15 % ``"Movie <id>, The (<year>)"``,
  which needs CSV quoting) and 1 to 5 genres of the 19 MovieLens genres
  joined by ``|`` in alphabetical order, or ``(no genres listed)`` for about
  0.5 % of movies.

Rows are generated and written in blocks of about one million rows (whole
users per block), so memory is bounded by the block (and the per-user and
per-item arrays), not by ``n_interactions``: 10 million rows took 18 s with
a peak of 350 MiB on the 2-core development machine (``python -m recnotes
scale``).  Like the MovieLens files, ``ratings.csv`` is sorted by ``userId``
then ``movieId``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import secrets

import numpy as np
import pandas as pd

__all__ = [
    "GENRES", "MIN_PER_USER", "NO_GENRES", "SyntheticMovieLens", "activity_counts", "default_n_users",
    "draws_lower_bound", "write_synthetic_movielens",
]

#: The 19 genres of MovieLens (ml-latest-small), alphabetical.
GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
#: The genres field of a movie without genres.
NO_GENRES = "(no genres listed)"
# Relative genre frequencies of ml-latest-small (movies per genre), in GENRES order.
_GENRE_WEIGHTS = np.array(
    [1499, 1103, 549, 614, 3242, 1075, 364, 3779, 768, 85, 860, 158, 327, 566, 1587, 971, 1876, 381, 167],
    dtype=np.float64,
)
_GENRE_COUNT_P = np.array([0.35, 0.33, 0.20, 0.09, 0.03])  # 1..5 genres per movie
_NO_GENRES_SHARE = 0.005

_T0 = 820_454_400  # 1996-01-01 UTC
_T1 = 1_538_352_000  # 2018-10-01 UTC
_SPAN_RANGE = (600.0, 8 * 365.25 * 86400.0)  # 10 minutes .. 8 years
_BLOCK_ROWS = 1 << 20  # rows generated and written at once (whole users)
_MAX_ROUNDS = 200
#: The default ``min_per_user`` (MovieLens' own minimum): also the fewest interactions a default folder can have
#: (one user of 20 ratings).
MIN_PER_USER = 20
# Refused upfront: a heaviest user who would need more i.i.d. draws than this (in expectation) to find their
# distinct items; the sampling of one block also stops (RuntimeError) past 100 draws per row plus 10 times this.
_MAX_DRAWS_PER_USER = 2_000_000


@dataclasses.dataclass(frozen=True)
class SyntheticMovieLens:
    """What :func:`write_synthetic_movielens` wrote, and with which model parameters."""

    path: pathlib.Path
    n_interactions: int
    n_users: int
    n_items: int
    popularity_exponent: float
    popularity_offset: float
    activity_sigma: float
    min_per_user: int
    max_per_user: int
    seed: int


def default_n_users(n_interactions: int) -> int:
    """The users of a folder of ``n_interactions`` rows when ``n_users`` is not given: ``max(1, round(n / 150))``.

    Below 225 rows that is a single user.
    """
    return max(1, round(n_interactions / 150))


def _positive_int(name: str, value, low: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _positive_float(name: str, value, allow_zero: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return value


def activity_counts(
    n_interactions: int, weights: np.ndarray, min_per_user: int, max_per_user: int
) -> np.ndarray:
    """Integer rows per user: ``min_per_user`` plus a share of the rest proportional to ``weights``.

    Shares above ``max_per_user`` are capped and their excess is spread over
    the other users in proportion to their weights (water filling); the
    result is rounded by largest remainder, so it sums to exactly
    ``n_interactions`` and every count lies in ``[min_per_user,
    max_per_user]``.  Raises ValueError when that is impossible.
    """
    weights = np.asarray(weights, dtype=np.float64)
    n_users = len(weights)
    if n_users == 0 or not (np.isfinite(weights).all() and (weights > 0).all()):
        raise ValueError("weights must be a non-empty array of positive finite numbers")
    if not n_users * min_per_user <= n_interactions <= n_users * max_per_user:
        raise ValueError(
            f"{n_interactions:,} interactions cannot be spread over {n_users:,} users with "
            f"{min_per_user} to {max_per_user} rows each (possible: {n_users * min_per_user:,} "
            f"to {n_users * max_per_user:,}); change n_users, min_per_user or max_per_user"
        )
    capped = np.zeros(n_users, dtype=bool)
    share = np.full(n_users, float(max_per_user))
    while not capped.all():  # each pass caps at least one more user, or stops
        free = ~capped
        left = n_interactions - max_per_user * capped.sum() - min_per_user * free.sum()
        share[free] = min_per_user + left * weights[free] / weights[free].sum()
        over = free & (share > max_per_user)
        if not over.any():
            break
        capped |= over
        share[over] = max_per_user
    share = np.minimum(share, max_per_user)
    counts = np.floor(share).astype(np.int64)
    remainder = int(n_interactions - counts.sum())
    if remainder:  # the users with the largest fractional parts get one more row
        room = counts < max_per_user
        fraction = np.where(room, share - counts, -1.0)
        counts[np.argsort(-fraction, kind="stable")[:remainder]] += 1
    assert counts.sum() == n_interactions and counts.min() >= min_per_user and counts.max() <= max_per_user
    return counts


def draws_lower_bound(n: int, weights: np.ndarray) -> float:
    """A lower bound on the expected number of i.i.d. draws from ``weights`` until ``n`` distinct items appear.

    For every ``k < n``, at least ``n - k`` draws must fall outside the
    ``k`` heaviest items, each with probability ``tail_k`` (their weight
    share): at least ``(n - k) / tail_k`` draws in expectation.  The bound is
    the largest of these (``inf`` when a tail weight underflows to 0).
    """
    weights = np.sort(np.asarray(weights, dtype=np.float64))[::-1]
    tail = np.cumsum(weights[::-1])[::-1] / weights.sum()  # tail[k]: share of all but the k heaviest items
    k = np.arange(n)
    with np.errstate(divide="ignore"):
        return float(np.max((n - k) / tail[:n]))


def _distinct_draws(counts: np.ndarray, cdf: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For user ``j`` of a block, the first ``counts[j]`` distinct ranks of i.i.d. draws from ``cdf``.

    Draws are made in rounds, each user drawing its missing count divided by
    its observed share of new items in the last round (so users that already
    hold the popular items draw more), and the first occurrences are kept in
    draw order.  Returns ``(user, rank)`` arrays (0-based, block-local user
    index) sorted by user, then rank.  Raises RuntimeError, before drawing
    them, when the draws would exceed ``100 * counts.sum() + 10 *
    _MAX_DRAWS_PER_USER`` or take more than ``_MAX_ROUNDS`` rounds.
    """
    n_items = len(cdf)
    need = counts.astype(np.int64).copy()
    accept = np.ones(len(counts))
    kept = np.empty(0, dtype=np.int64)  # keys user * n_items + rank, distinct
    budget, drawn = 100 * int(counts.sum()) + 10 * _MAX_DRAWS_PER_USER, 0
    for _ in range(_MAX_ROUNDS):
        active = np.flatnonzero(need > 0)
        if len(active) == 0:
            break
        draws = np.ceil(need[active] / accept[active] * 1.1).astype(np.int64) + 2
        drawn += int(draws.sum())
        if drawn > budget:
            raise RuntimeError(
                f"synthetic item sampling is not converging: {int(need.sum()):,} distinct (user, movie) pairs "
                f"still missing after {drawn - int(draws.sum()):,} draws (budget {budget:,}); the popularity "
                "weights are too concentrated for the rows per user: lower popularity_exponent or max_per_user, "
                "or raise popularity_offset"
            )
        user = np.repeat(active, draws)
        rank = np.minimum(np.searchsorted(cdf, rng.random(len(user)), side="right"), n_items - 1)
        keys = np.concatenate([kept, user * n_items + rank])
        _, first = np.unique(keys, return_index=True)
        new = np.sort(first[first >= len(kept)]) - len(kept)  # first occurrences among the new draws, in draw order
        new_user = user[new]
        order = np.argsort(new_user, kind="stable")  # grouped by user, draw order within a user
        new, new_user = new[order], new_user[order]
        starts = np.searchsorted(new_user, active)
        position = np.arange(len(new)) - starts[np.searchsorted(active, new_user)]  # among the user's new items
        take = position < need[new_user]
        kept = np.concatenate([kept, user[new[take]] * n_items + rank[new[take]]])
        found = np.bincount(new_user, minlength=len(counts))[active]
        accept[active] = np.maximum(found / draws, 1e-4)
        need[active] -= np.minimum(found, need[active])
    else:
        raise RuntimeError("synthetic item sampling did not converge; lower max_per_user or popularity_exponent")
    kept.sort()
    return kept // n_items, kept % n_items


def _movies(movie_ids: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """movies.csv rows: titles with a year, genres from the MovieLens list (see the module docstring)."""
    n = len(movie_ids)
    year = np.clip(2018 - np.floor(rng.exponential(15.0, n)).astype(np.int64), 1902, 2018)
    the = rng.random(n) < 0.15
    ids = pd.Series(movie_ids).astype(str)
    title = "Movie " + ids + np.where(the, ", The", "") + " (" + pd.Series(year).astype(str) + ")"
    k = rng.choice(np.arange(1, 6), size=n, p=_GENRE_COUNT_P)
    keys = rng.exponential(size=(n, len(GENRES))) / _GENRE_WEIGHTS  # smallest k keys: weighted, no replacement
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    chosen = ranks < k[:, None]
    masks = chosen @ (1 << np.arange(len(GENRES), dtype=np.int64))
    masks[rng.random(n) < _NO_GENRES_SHARE] = 0
    unique, inverse = np.unique(masks, return_inverse=True)
    names = np.array(
        ["|".join(g for b, g in enumerate(GENRES) if m >> b & 1) or NO_GENRES for m in unique], dtype=object
    )  # one string per distinct genre set, not per movie
    return pd.DataFrame({"movieId": movie_ids, "title": title.to_numpy(), "genres": names[inverse]})


def _block_rows(
    counts: np.ndarray, user_ids: np.ndarray, movie_of_rank: np.ndarray, cdf: np.ndarray,
    item_bias: np.ndarray, rng: np.random.Generator,
) -> pd.DataFrame:
    """ratings.csv rows of one block of users, sorted by (userId, movieId)."""
    n_block = len(counts)
    user, rank = _distinct_draws(counts, cdf, rng)
    rows = len(user)
    # time: a random order within each user, strictly increasing timestamps
    span = np.exp(rng.uniform(*np.log(_SPAN_RANGE), n_block))
    gap = 1 + np.floor(rng.exponential(1.0, rows) * np.repeat(span / counts, counts)).astype(np.int64)
    cumulative = np.concatenate([[0], np.cumsum(gap)])
    ends = np.cumsum(counts)
    elapsed = cumulative[1:] - np.repeat(cumulative[ends - counts], counts)  # increasing within each user
    last = cumulative[ends] - cumulative[ends - counts]  # each user's elapsed time at their last row
    start = _T0 + np.floor(rng.random(n_block) * np.maximum(_T1 - _T0 - last, 0)).astype(np.int64)
    order = np.argsort(user + rng.random(rows))  # the same user groups, a random order within each
    timestamp = np.empty(rows, dtype=np.int64)
    timestamp[order] = np.repeat(start, counts) + elapsed
    # ratings: 3.5 + user bias + item bias + noise, half or whole stars
    user_bias = rng.normal(0.0, 0.45, n_block)
    whole_stars = rng.random(n_block) < 0.5
    raw = 3.5 + user_bias[user] + item_bias[rank] + rng.normal(0.0, 0.8, rows)
    step = np.where(whole_stars[user], 1.0, 0.5)
    rating = np.clip(np.round(raw / step) * step, step, 5.0)
    movie = movie_of_rank[rank]
    sort = np.argsort(user * (int(movie_of_rank.max()) + 1) + movie)  # by (user, movieId)
    return pd.DataFrame(
        {"userId": user_ids[user[sort]], "movieId": movie[sort], "rating": rating[sort], "timestamp": timestamp[sort]}
    )


def write_synthetic_movielens(
    folder: str | pathlib.Path,
    n_interactions: int,
    *,
    seed: int = 0,
    n_users: int | None = None,
    n_items: int | None = None,
    popularity_exponent: float = 1.0,
    popularity_offset: float = 20.0,
    activity_sigma: float = 1.2,
    min_per_user: int = MIN_PER_USER,
    max_per_user: int | None = None,
    overwrite: bool = False,
) -> SyntheticMovieLens:
    """Write ``ratings.csv`` and ``movies.csv`` of a synthetic MovieLens into ``folder``.

    The model is described in the module docstring.  Defaults follow the
    shape of the MovieLens releases: about 150 ratings per user, at least 20
    per user (as MovieLens guarantees), and a catalogue growing with the
    square root of the number of interactions (``20 * sqrt(n_interactions)``
    movies: 6,325 for 100k rows, 63,246 for 10M; ml-25m has 59,047).

    The files are written to temporary files in ``folder`` and renamed
    (``os.replace``) at the end, so a failure midway leaves no half-written
    ``ratings.csv`` and the folder's earlier files as they were (a folder it
    created is removed again).

    Args:
      folder: created if missing.  Existing ``ratings.csv`` or ``movies.csv``
        in it are refused unless ``overwrite``.
      n_interactions: rating rows to write, exactly.
      seed: the same seed (and arguments) give byte-identical files.
      n_users: default ``max(1, round(n_interactions / 150))``.
      n_items: default ``max(100, round(20 * sqrt(n_interactions)))``.
      popularity_exponent: exponent ``s`` of item popularity (> 0).
      popularity_offset: ``q`` of the weights ``(rank + q) ** -s`` (>= 0;
        the default keeps the top movie near half of the users).
      activity_sigma: log-normal spread of user activity (0 = every user
        the same number of rows, up to rounding).
      min_per_user: rows every user has at least (>= 1).
      max_per_user: rows a user has at most (<= ``n_items``); default
        ``max(min_per_user, n_items // 5, 4 * mean rows per user)``, at
        most ``n_items``.
      overwrite: replace ``ratings.csv`` and ``movies.csv`` already in ``folder``.

    Returns:
      A :class:`SyntheticMovieLens` with the path and the parameters used.

    Raises:
      ValueError: for a non-integer or non-positive count, a bad exponent
        or offset, counts that cannot fit (e.g. ``n_interactions < n_users *
        min_per_user``), a folder that cannot be created (a file in its
        place or in its path), or popularity weights so concentrated that
        the heaviest user's distinct movies would need more than
        ``_MAX_DRAWS_PER_USER`` draws (:func:`draws_lower_bound`; e.g.
        ``popularity_exponent=50``), all before anything is written.
      FileExistsError: ``ratings.csv`` or ``movies.csv`` exists in ``folder``
        and ``overwrite`` is False.
      RuntimeError: the item sampling still does not converge (nothing is
        left behind).
    """
    n_interactions = _positive_int("n_interactions", n_interactions)
    seed = _positive_int("seed", seed, low=0)
    n_users = default_n_users(n_interactions) if n_users is None else _positive_int("n_users", n_users)
    n_items = max(100, round(20 * math.sqrt(n_interactions))) if n_items is None else _positive_int("n_items", n_items)
    popularity_exponent = _positive_float("popularity_exponent", popularity_exponent)
    popularity_offset = _positive_float("popularity_offset", popularity_offset, allow_zero=True)
    activity_sigma = _positive_float("activity_sigma", activity_sigma, allow_zero=True)
    min_per_user = _positive_int("min_per_user", min_per_user)
    if max_per_user is None:
        max_per_user = min(n_items, max(min_per_user, n_items // 5, 4 * -(-n_interactions // n_users)))
    max_per_user = _positive_int("max_per_user", max_per_user)
    if min_per_user > max_per_user:
        raise ValueError(f"min_per_user ({min_per_user}) must not exceed max_per_user ({max_per_user})")
    if max_per_user > n_items:
        raise ValueError(
            f"max_per_user ({max_per_user:,}) exceeds n_items ({n_items:,}): a user rates each movie at most once"
        )
    if not isinstance(overwrite, (bool, np.bool_)):
        raise ValueError(f"overwrite must be True or False, got {overwrite!r}")
    folder = pathlib.Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder")
    missing = []  # folders to create, deepest first
    parent = folder
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{folder}: cannot create the folder, {parent} is a file, not a folder")
    existing = [name for name in ("ratings.csv", "movies.csv") if (folder / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{folder}: {' and '.join(existing)} already exist(s); choose a new folder or pass overwrite=True"
        )

    root = np.random.SeedSequence(seed)
    setup_seq, movies_seq, blocks_seq = root.spawn(3)
    rng = np.random.default_rng(setup_seq)
    counts = activity_counts(n_interactions, np.exp(activity_sigma * rng.standard_normal(n_users)), min_per_user, max_per_user)
    user_ids = np.sort(rng.choice(2 * n_users, n_users, replace=False)) + 1
    movie_ids = np.sort(rng.choice(3 * n_items, n_items, replace=False)) + 1
    movie_of_rank = rng.permutation(movie_ids)
    weights = (np.arange(1, n_items + 1, dtype=np.float64) + popularity_offset) ** -popularity_exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    heaviest = int(counts.max())
    expected_draws = draws_lower_bound(heaviest, weights)
    if expected_draws > _MAX_DRAWS_PER_USER:
        raise ValueError(
            f"popularity_exponent={popularity_exponent:g} with popularity_offset={popularity_offset:g} puts so "
            f"little weight beyond the top movies that a user with {heaviest:,} ratings (of {n_items:,} movies) "
            f"would need at least {expected_draws:,.3g} draws to find them distinct (limit "
            f"{_MAX_DRAWS_PER_USER:,}); lower popularity_exponent or max_per_user, or raise popularity_offset"
        )
    # popular items are rated a little higher: +0.25 at rank 1 down to -0.25 at the last rank
    item_bias = rng.normal(0.0, 0.35, n_items) + 0.25 - 0.5 * np.log(np.arange(1, n_items + 1)) / np.log(n_items + 1)

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{folder}: cannot create the folder: {exc}") from None
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    temporary = {name: folder / f".{name}.{token}.tmp" for name in ("movies.csv", "ratings.csv")}
    try:
        with open(temporary["movies.csv"], "x", encoding="utf-8", newline="") as out:
            _movies(movie_ids, np.random.default_rng(movies_seq)).to_csv(out, index=False, lineterminator="\n")
        ends = np.cumsum(counts)
        # block boundaries: whole users, about _BLOCK_ROWS rows each (a function of the counts only)
        cuts = np.unique(np.searchsorted(ends, np.arange(_BLOCK_ROWS, ends[-1], _BLOCK_ROWS), side="left") + 1)
        bounds = np.concatenate([[0], cuts[cuts < n_users], [n_users]])
        block_rngs = [np.random.default_rng(s) for s in blocks_seq.spawn(len(bounds) - 1)]
        with open(temporary["ratings.csv"], "x", encoding="utf-8", newline="") as out:
            out.write("userId,movieId,rating,timestamp\n")
            for (lo, hi), block_rng in zip(zip(bounds[:-1], bounds[1:]), block_rngs):
                frame = _block_rows(counts[lo:hi], user_ids[lo:hi], movie_of_rank, cdf, item_bias, block_rng)
                frame.to_csv(out, header=False, index=False, lineterminator="\n")
        for name, path in temporary.items():
            os.replace(path, folder / name)
    except BaseException:
        for path in temporary.values():
            path.unlink(missing_ok=True)
        for created in missing:  # deepest first; only the empty folders this call created
            try:
                created.rmdir()
            except OSError:
                break
        raise
    return SyntheticMovieLens(
        path=folder, n_interactions=n_interactions, n_users=n_users, n_items=n_items,
        popularity_exponent=popularity_exponent, popularity_offset=popularity_offset, activity_sigma=activity_sigma,
        min_per_user=min_per_user, max_per_user=max_per_user, seed=seed,
    )
