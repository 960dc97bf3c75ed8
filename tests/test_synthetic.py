"""recnotes.synthetic: MovieLens-format files of any size, with the model its docstring states."""

import re

import numpy as np
import pandas as pd
import pytest

from recnotes.data import load_movielens
from recnotes.splits import chrono_split
from recnotes.synthetic import GENRES, NO_GENRES, activity_counts, write_synthetic_movielens

HEADER = "userId,movieId,rating,timestamp"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """20,000 rows with the default model."""
    folder = tmp_path_factory.mktemp("synthetic") / "ml-20k"
    info = write_synthetic_movielens(folder, 20_000, seed=0)
    return info, pd.read_csv(folder / "ratings.csv")


def test_files_have_the_ml_latest_small_schema_and_format(synthetic):
    info, _ = synthetic
    lines = (info.path / "ratings.csv").read_text(encoding="utf-8").split("\n")
    assert lines[0] == HEADER and lines[-1] == ""  # LF line ends, a final newline
    body = lines[1:-1]
    assert len(body) == 20_000
    assert all(re.fullmatch(r"[0-9]+,[0-9]+,[0-5]\.[05],[0-9]{9,10}", line) for line in body)
    movies_header = (info.path / "movies.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    assert movies_header == "movieId,title,genres"


def test_load_movielens_reads_it_with_the_usual_types(synthetic):
    info, _ = synthetic
    ml = load_movielens(info.path)
    r = ml.ratings
    assert len(r) == 20_000 and ml.duplicates_dropped == 0
    assert list(r.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert [str(t) for t in r.dtypes] == ["int64", "int64", "float32", "int64"]
    assert set(np.unique(r.rating)) <= set(np.arange(1, 11) / 2)
    assert r.rating.nunique() == 10  # half stars and whole stars both occur
    assert r.userId.nunique() == info.n_users == 133
    movies = ml.movies
    assert len(movies) == info.n_items and movies.movieId.is_unique
    assert set(r.movieId) <= set(movies.movieId)
    titles = movies.title.str.fullmatch(r"Movie [0-9]+(, The)? \((19[0-9]{2}|20(0[0-9]|1[0-8]))\)")
    assert titles.all()
    assert movies.title.str.contains(", The").any()  # quoted in the CSV, read back whole
    genre_lists = movies.genres.str.split("|")
    assert all(g == [NO_GENRES] or (set(g) <= set(GENRES) and g == sorted(g)) for g in genre_lists)
    assert (movies.genres == NO_GENRES).any() and (genre_lists.str.len() > 1).any()


@pytest.mark.parametrize("n", [20, 1_234, 20_001])
def test_exactly_the_requested_rows(tmp_path, n):
    info = write_synthetic_movielens(tmp_path, n)
    ratings = pd.read_csv(tmp_path / "ratings.csv")
    assert len(ratings) == n == info.n_interactions
    assert ratings.groupby("userId").size().min() >= info.min_per_user


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = write_synthetic_movielens(tmp_path / "a", 30_000, seed=7).path
    b = write_synthetic_movielens(tmp_path / "b", 30_000, seed=7).path
    c = write_synthetic_movielens(tmp_path / "c", 30_000, seed=8).path
    for name in ("ratings.csv", "movies.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).read_bytes() != (c / name).read_bytes()


def test_no_duplicate_pairs_and_strictly_increasing_time_per_user(synthetic):
    _, ratings = synthetic
    assert not ratings.duplicated(["userId", "movieId"]).any()
    by_time = ratings.sort_values(["userId", "timestamp"], kind="mergesort")
    same_user = by_time.userId.to_numpy()[1:] == by_time.userId.to_numpy()[:-1]
    assert (np.diff(by_time.timestamp.to_numpy())[same_user] > 0).all()
    assert ratings.timestamp.min() >= 820_454_400 and ratings.timestamp.max() < 1_538_352_000  # 1996 .. 2018-10
    # the file is sorted like MovieLens' own: by userId, then movieId
    pd.testing.assert_frame_equal(ratings, ratings.sort_values(["userId", "movieId"]).reset_index(drop=True))


def test_ids_are_not_contiguous(synthetic):
    info, ratings = synthetic
    users = np.unique(ratings.userId)
    assert users.min() >= 1 and users.max() > 1.3 * len(users) and (np.diff(users) > 1).any()
    movies = pd.read_csv(info.path / "movies.csv").movieId.to_numpy()
    assert movies.max() > 1.5 * len(movies) and (np.diff(movies) > 1).any()


@pytest.mark.parametrize("exponent", [0.8, 1.3])
def test_item_popularity_follows_the_requested_power_law(tmp_path, exponent):
    # Equal users far from saturating the catalogue: below the head, rank-frequency ~ rank ** -exponent.
    write_synthetic_movielens(
        tmp_path, 200_000, n_users=4_000, n_items=20_000, popularity_exponent=exponent, popularity_offset=0,
        activity_sigma=0,
    )
    counts = np.sort(pd.read_csv(tmp_path / "ratings.csv").movieId.value_counts().to_numpy())[::-1]
    last = int(np.searchsorted(-counts, -20))  # ranks with at least 20 ratings (little count noise)
    ranks = np.arange(50, last + 1)
    assert len(ranks) > 500
    slope = np.polyfit(np.log(ranks), np.log(counts[ranks - 1]), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.06)


def test_default_head_is_rated_by_about_half_of_the_users(synthetic):
    # The offset of (rank + 20) ** -1 keeps the top movie near MovieLens' (54 % of users in ml-latest-small).
    _, ratings = synthetic
    top_share = ratings.movieId.value_counts().iloc[0] / ratings.userId.nunique()
    assert 0.35 < top_share < 0.8


def test_user_activity_varies_and_stays_within_bounds(synthetic, tmp_path):
    info, ratings = synthetic
    per_user = ratings.groupby("userId").size()
    assert per_user.min() >= 20 and per_user.max() <= info.max_per_user
    assert per_user.max() > 5 * per_user.median() and per_user.std() / per_user.mean() > 0.6
    write_synthetic_movielens(tmp_path, 10_000, n_users=100, activity_sigma=0)
    flat = pd.read_csv(tmp_path / "ratings.csv").groupby("userId").size()
    assert flat.min() == flat.max() == 100


def test_chrono_split_gives_every_user_train_validation_and_test_rows(synthetic):
    _, ratings = synthetic
    split = chrono_split(ratings, drop_unseen_test_items=False)
    users = set(ratings.userId)
    assert set(split.train.userId) == set(split.validation.userId) == set(split.test.userId) == users
    assert sum(split.sizes().values()) == len(ratings)
    assert len(split.train) == pytest.approx(0.8 * len(ratings), rel=0.02)


def test_activity_counts_sum_exactly_and_cap_heavy_users():
    weights = np.array([1000.0, 1.0, 1.0, 2.0, 3.0])
    counts = activity_counts(100, weights, min_per_user=5, max_per_user=40)
    assert counts.sum() == 100 and counts[0] == 40  # capped; the excess goes to the others by weight
    np.testing.assert_array_equal(counts, [40, 11, 11, 16, 22])  # 5 + 40 * w / 7, rounded
    np.testing.assert_array_equal(activity_counts(10, np.ones(3), 2, 9), [4, 3, 3])  # largest remainder, stable
    with pytest.raises(ValueError, match=r"100 interactions cannot be spread over 5 users with 5 to 10 rows each"):
        activity_counts(100, weights, min_per_user=5, max_per_user=10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_interactions": 0}, r"n_interactions must be an integer >= 1, got 0"),
        ({"n_interactions": 2.5}, r"n_interactions must be an integer >= 1, got 2.5"),
        ({"n_interactions": True}, r"n_interactions must be an integer >= 1, got True"),
        ({"n_interactions": 100, "seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"n_interactions": 100, "popularity_exponent": 0}, r"popularity_exponent must be a finite number > 0, got 0.0"),
        ({"n_interactions": 100, "popularity_exponent": float("nan")}, r"popularity_exponent must be a finite number"),
        ({"n_interactions": 100, "activity_sigma": -1}, r"activity_sigma must be a finite number >= 0"),
        ({"n_interactions": 100, "n_users": 10}, r"100 interactions cannot be spread over 10 users with 20 to"),
        ({"n_interactions": 100, "min_per_user": 30, "max_per_user": 20}, r"min_per_user \(30\) must not exceed max_per_user \(20\)"),
        ({"n_interactions": 1000, "n_items": 100, "max_per_user": 101}, r"max_per_user \(101\) exceeds n_items \(100\)"),
    ],
)
def test_bad_arguments_are_refused_clearly(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_synthetic_movielens(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        write_synthetic_movielens(tmp_path / "file", 100)
    with pytest.raises(ValueError, match=r"cannot create the folder, .*file is a file, not a folder"):
        write_synthetic_movielens(tmp_path / "file" / "sub", 100)
    assert (tmp_path / "file").read_text() == "x"


def test_existing_files_are_kept_unless_overwrite(tmp_path):
    write_synthetic_movielens(tmp_path, 100, seed=0)
    before = {name: (tmp_path / name).read_bytes() for name in ("ratings.csv", "movies.csv")}
    with pytest.raises(FileExistsError, match=r"ratings.csv and movies.csv already exist.*overwrite=True"):
        write_synthetic_movielens(tmp_path, 100, seed=1)
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    write_synthetic_movielens(tmp_path, 100, seed=1, overwrite=True)
    assert (tmp_path / "ratings.csv").read_bytes() != before["ratings.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movies.csv", "ratings.csv"]


def test_a_failure_midway_leaves_the_earlier_files_and_no_partial_file(tmp_path, monkeypatch):
    import recnotes.synthetic as synthetic

    write_synthetic_movielens(tmp_path / "kept", 100, seed=0)
    before = {p.name: p.read_bytes() for p in (tmp_path / "kept").iterdir()}

    def broken(*args, **kwargs):
        raise MemoryError("simulated failure in the middle of ratings.csv")

    monkeypatch.setattr(synthetic, "_block_rows", broken)
    with pytest.raises(MemoryError, match="simulated"):
        write_synthetic_movielens(tmp_path / "kept", 100, seed=1, overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "kept").iterdir()} == before  # no .tmp file left either
    with pytest.raises(MemoryError):
        write_synthetic_movielens(tmp_path / "new" / "folder", 100)
    assert not (tmp_path / "new").exists()  # the folders it created are removed again


def test_extreme_popularity_is_refused_at_once(tmp_path):
    import time

    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"popularity_exponent=50 .* would need at least .* draws .*limit 2,000,000"):
        write_synthetic_movielens(tmp_path / "out", 2_000, popularity_exponent=50.0)
    assert time.perf_counter() - start < 5
    assert not (tmp_path / "out").exists()


def test_draws_lower_bound_and_the_sampling_budget():
    from recnotes.synthetic import _distinct_draws, draws_lower_bound

    assert draws_lower_bound(3, np.ones(3)) == pytest.approx(3.0)  # last item: 1 draw at share 1/3
    assert draws_lower_bound(2, np.array([1.0, 1.0, 2.0])) == pytest.approx(2.0)
    weights = (np.arange(1, 101) + 0.0) ** -30.0
    cdf = np.cumsum(weights) / weights.sum()
    with pytest.raises(RuntimeError, match="synthetic item sampling is not converging"):
        _distinct_draws(np.array([60]), cdf, np.random.default_rng(0))  # stops at its budget, before drawing it
