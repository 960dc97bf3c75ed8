"""Shared fixtures: the bundled data and a tiny synthetic MovieLens-format folder."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "ml-latest-small"


def frame(rows, columns=("userId", "movieId", "timestamp")):
    """A ratings frame from tuples; rating 4.0 unless given."""
    df = pd.DataFrame(rows, columns=list(columns))
    if "rating" not in df:
        df["rating"] = np.float32(4.0)
    return df


def write_synthetic_movielens(folder: pathlib.Path, n_users=40, n_items=60, per_user=(12, 30), seed=0):
    """A small MovieLens-format folder with sparse, non-contiguous ids and a popularity skew."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    item_ids = np.sort(rng.choice(np.arange(1, 100_000), n_items, replace=False))
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    rows = []
    for u in range(n_users):
        user_id = 1000 + 7 * u
        n = int(rng.integers(*per_user))
        items = rng.choice(item_ids, n, replace=False, p=popularity)
        times = 1_500_000_000 + np.sort(rng.integers(0, 10_000_000, n))
        ratings = rng.choice(np.arange(1, 11) / 2, n)
        rows += [(user_id, int(i), float(r), int(t)) for i, r, t in zip(items, ratings, times)]
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(folder / "ratings.csv", index=False)
    movies = pd.DataFrame({
        "movieId": item_ids,
        "title": [f"Movie {i}, The ({1990 + i % 30})" for i in item_ids],
        "genres": rng.choice(["Drama", "Comedy|Romance", "Action|Sci-Fi"], n_items),
    })
    movies.to_csv(folder / "movies.csv", index=False)
    return folder


@pytest.fixture
def synthetic_movielens(tmp_path):
    return write_synthetic_movielens(tmp_path / "ml-synthetic")


@pytest.fixture(scope="session")
def bundled():
    from recnotes.data import load_movielens

    return load_movielens(BUNDLED)
